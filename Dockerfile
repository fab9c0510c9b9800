# The load agent's image: a release build of grep11-harness on a minimal runtime image
# that holds the binary, the C runtime it links and the system's CA certificates, and
# runs as a non-root user. Build: docker build -t REGISTRY/grep11-harness:TAG .

FROM rust:1-bookworm AS build
WORKDIR /src
# The protobuf definitions are compiled in Rust (protox) and AWS-LC with the C compiler
# the image has: no protoc, cmake or Go needed.
COPY . .
RUN cargo build --release --locked --bin grep11-harness \
    && strip target/release/grep11-harness

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/grep11-harness /usr/local/bin/grep11-harness
# nonroot: uid and gid 65532.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/grep11-harness"]
CMD ["--help"]
