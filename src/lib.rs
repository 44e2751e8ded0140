//! docx2pdf: office documents in Cloud Storage to PDFs, driven by Pub/Sub.
//!
//! One concept per module: [`config`] (settings), [`convert`] (the local
//! `convert` command), [`office`] (the LibreOffice pool), [`supervisor`]
//! (child-process supervision, for any kind of child) and [`telemetry`]
//! (logs and metrics). `main.rs` only wires them together.

pub mod config;
pub mod convert;
pub mod office;
pub mod supervisor;
pub mod telemetry;
