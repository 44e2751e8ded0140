//! docx2pdf: office documents in Cloud Storage to PDFs, driven by Pub/Sub.
//!
//! One concept per module: [`config`] (settings), [`job`] (message to job),
//! [`storage`] (Cloud Storage), [`office`] (the LibreOffice pool),
//! [`supervisor`] (child-process supervision, for any kind of child),
//! [`worker`] (the pull loop), [`http`] (health and metrics), [`telemetry`]
//! (logs and metrics) and [`convert`] (the local `convert` command).
//! `main.rs` only wires them together.

pub mod config;
pub mod convert;
pub mod gcloud;
pub mod http;
pub mod job;
pub mod office;
pub mod push;
pub mod request;
mod stdout;
pub mod storage;
pub mod submit;
pub mod supervisor;
pub mod telemetry;
pub mod worker;
pub mod workspace;
