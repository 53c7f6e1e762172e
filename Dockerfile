# syntax=docker/dockerfile:1
#
# The flinkops container image: `docker build -t flinkops .`
#
# Two stages. `build` compiles the release binary with the toolchain image; the final image holds
# only that binary on distroless/cc (glibc, libgcc, CA certificates, /etc/passwd with `nonroot`; no
# shell, no package manager), runs as the numeric non-root user 65532, and has `flinkops` as its
# entrypoint: `docker run IMAGE plan specs/` runs `flinkops plan specs/`.
#
# Why glibc on distroless/cc rather than a static musl binary on distroless/static or scratch:
# reqwest's TLS is rustls on aws-lc-rs, a C library that builds out of the box for the glibc
# target; a musl build needs a musl C toolchain (and musl's allocator is slow under tokio). The
# binary links only libc, libm and libgcc_s, which distroless/cc carries.
#
# The build and final stages must be the same Debian release: a binary linked against trixie's
# glibc (2.41) refuses to start on bookworm's (2.36) with "GLIBC_2.xx not found". So
# rust:*-trixie goes with cc-debian13 (tests/flinkops/deploy_examples.rs checks that they agree,
# and that the Rust version satisfies `rust-version` in Cargo.toml).
#
# No HEALTHCHECK: Kubernetes ignores it (the example Deployment probes /healthz and /readyz), and
# the image has no shell or curl to run one with.

FROM rust:1.95-slim-trixie AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml or Cargo.lock change,
# not on every source edit. Cargo needs every target the manifest declares to exist, so they are
# stubbed for this step (the test keeps this list in step with Cargo.toml).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/flinkops \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs benches/plan.rs tests/flinkops/main.rs \
    && cargo build --release --locked --bin flinkops \
    && rm -rf src

# The real sources. `touch`: the stubs were compiled after these files were last modified, so
# without it cargo could take the stub build for up to date.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin flinkops \
    && mkdir -p /out/state \
    && cp target/release/flinkops /out/flinkops

FROM gcr.io/distroless/cc-debian13:nonroot
LABEL org.opencontainers.image.title="flinkops" \
      org.opencontainers.image.description="Declarative GitOps for Apache Flink jobs: plan, apply, watch and audit savepoint-safe upgrades" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/flinkops /usr/local/bin/flinkops
# The state directory (ledger, jar hash cache) at an absolute path owned by the runtime user:
# the default `.flinkops` would land in whatever the working directory is. Mount a volume here to
# keep the ledger across container restarts (the Kubernetes example mounts a PersistentVolumeClaim).
COPY --from=build --chown=65532:65532 /out/state /var/lib/flinkops
ENV FLINKOPS_STATE_DIR=/var/lib/flinkops
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/flinkops"]
CMD ["--help"]
