//! Properties of the regression losses.
