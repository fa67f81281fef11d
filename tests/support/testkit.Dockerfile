# tests/support/testkit.Dockerfile — the image of the tests' helper pods on real nodes
# (HTTP server and client, DNS lookups): Debian's python3, curl and dig, nothing else.
# hack/images.sh builds it as localhost/ballast-testkit:1 on the local debian base.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 curl dnsutils procps ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER 1000:1000
