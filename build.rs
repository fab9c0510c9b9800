//! Compiles `proto/` into Rust without a system `protoc`: protox parses the files, and
//! tonic-prost-build generates the messages, the client and the server. The descriptors
//! are also written out (`grep11.fds`), for the test that checks `rpc::rpc_table!` against
//! the proto.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["grep11/server.proto", "google/rpc/status.proto"];
    let fds = protox::compile(protos, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("grep11.fds"), fds.encode_to_vec())?;

    let mut config = tonic_prost_build::Config::new();
    // `prost::Name` gives each message its type URL; the Grep11Error detail must be
    // `type.googleapis.com/grep11.Grep11Error`, which is what real clients look for.
    config.enable_type_names();
    config.type_name_domain(["."], "type.googleapis.com");

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;

    println!("cargo:rerun-if-changed=proto");
    // The binary embeds suites/ (src/cli/builtin.rs); include_dir cannot tell cargo so.
    println!("cargo:rerun-if-changed=suites");
    Ok(())
}
