# Dockerfile — the ballast operator image: built on Debian bookworm with the distribution's
# -dev packages and CMake, run on bookworm-slim with only the shared libraries the binary
# loads, as the non-root user 65532. hack/image-libs.sh checks that the runtime package
# list below provides every library `ldd ballast` lists; keep the two in step.
#
#   docker build -t ballast:0.1.0 .
#   helm install ballast charts/ballast --set image.repository=ballast --set image.tag=0.1.0

FROM debian:bookworm AS build
# check: CMakeLists.txt requires it even when only the binary is built.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev cmake ninja-build pkg-config \
      libcurl4-openssl-dev libcjson-dev libyaml-dev libwebsockets-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads: a change to charts/, hack/ or docs does not rebuild.
# RelWithDebInfo (the project default, -O2 under -Werror like every dev build), then strip.
COPY CMakeLists.txt ./
COPY operator/ operator/
COPY tests/ tests/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALLAST_INTEGRATION=OFF \
 && cmake --build /build --target ballast \
 && strip /build/ballast \
 && /build/ballast --version

FROM debian:bookworm-slim AS runtime
# The shared libraries of ballast (libcap2 too: libwebsockets' pkg-config flags can link
# ballast against it directly) and the CA bundle for API servers with public certificates.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libssl3 libcjson1 libyaml-0-2 libwebsockets17 libcap2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/ballast /usr/local/bin/ballast
LABEL org.opencontainers.image.title="ballast" \
      org.opencontainers.image.description="Kubernetes operator for stateful streaming clusters (Kafka): zone-aware, health-gated rolls"
# 65532: the conventional "nonroot" id; the chart's securityContext runs as the same.
USER 65532:65532
EXPOSE 8080 9443
ENTRYPOINT ["/usr/local/bin/ballast"]
