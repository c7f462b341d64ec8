//! `losscape device`: the libtorch in use, whether its CUDA kernels are loaded (and why not), each
//! GPU with its memory, CPU features and threads. Also [`resolve`], the one place the other
//! subcommands turn `--device` into a libtorch device (printing the note when `auto` falls back).

use anyhow::Result;
use clap::Args;
use losscape::core::cuda::select_device;
use losscape::core::machine::MachineReport;

/// `losscape device`
#[derive(Args, Debug)]
pub struct DeviceArgs {
    /// libtorch threads to report (default: all cores).
    #[arg(long, value_parser = crate::guard::positive)]
    threads: Option<usize>,
}

/// Prints the report.
pub fn run(args: DeviceArgs) -> Result<()> {
    if let Some(n) = args.threads {
        tch::set_num_threads(n as i32);
    }
    println!("{}", MachineReport::gather());
    Ok(())
}

/// `--device` as a libtorch device: a CUDA request loads the CUDA kernels first; a note goes to
/// stderr when `auto` chose the CPU.
pub fn resolve(name: &str) -> Result<tch::Device> {
    let choice = select_device(name)?;
    if let Some(note) = choice.note {
        eprintln!("note: {note}");
    }
    Ok(choice.device)
}
