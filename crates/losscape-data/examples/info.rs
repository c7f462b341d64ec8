//! Prints a summary of a data set: sizes, image shape, class balance and pixel statistics.
//!
//! ```text
//! cargo run --release -p losscape-data --example info                      # the embedded set
//! cargo run --release -p losscape-data --example info -- cifar10:data/cifar-10-batches-bin
//! cargo run --release -p losscape-data --example info -- idx:data/mnist
//! ```
//!
//! On the embedded set it reports 5,000 training and 1,000 test images of shape [1, 28, 28],
//! 500 and 100 per class, and a training mean of about 0.286 with a standard deviation of about
//! 0.353.

use losscape_data::{DataSource, Dataset, Normalization};

fn describe(data: &Dataset) -> Result<(), losscape_data::Error> {
    let stats = Normalization::fit(data)?;
    println!("{}: {} images of shape {:?}, {} classes", data.name, data.len(), data.image_shape(), data.num_classes);
    println!("  per class: {:?}", data.class_counts());
    println!("  pixel mean {:.4?}, std {:.4?}", stats.mean, stats.std);
    Ok(())
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "fashion-mnist-mini".into());
    let result = arg.parse::<DataSource>().and_then(|source| {
        let splits = source.load()?;
        println!("data source {source}");
        describe(&splits.train)?;
        describe(&splits.test)
    });
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
