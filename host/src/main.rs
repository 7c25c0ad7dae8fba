//! The `troupe` command.

mod cli;

/// Task payloads are many small JSON values allocated on one thread and freed on
/// another; mimalloc handles that churn far better than glibc's malloc (measured with
/// `cargo xtask bench -- --bench pipeline`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
