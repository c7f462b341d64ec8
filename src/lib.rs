//! losscape: filter-normalized loss landscapes of neural networks (Li et al., 2018) on libtorch.
pub use losscape_core as core;
pub use losscape_data as data;
pub use losscape_models as models;
pub use losscape_train as train;
pub use losscape_directions as directions;
pub use losscape_landscape as landscape;
pub use losscape_plot as plot;
pub use losscape_curvature as curvature;
pub use losscape_trajectory as trajectory;
