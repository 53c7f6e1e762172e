# flinkops container image: a static-enough binary on a small, non-root base with CA certificates.
# (Completed with the Kubernetes examples in a later issue; this machine has no Docker engine, so the
# image is not built in CI yet.)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flinkops

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/flinkops /usr/local/bin/flinkops
USER 65532:65532
ENTRYPOINT ["flinkops"]
CMD ["--help"]
