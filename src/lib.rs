//! docx2pdf: office documents in Cloud Storage to PDFs, driven by Pub/Sub.
//!
//! One concept per module, in the order a message meets them (the README's
//! code map has a line for each): [`config`] (settings), [`gcloud`] (the
//! Google clients), [`workspace`] (temp space), [`worker`] (intake, the
//! pipeline, the ack decision), `job` (message to job), [`storage`] (Cloud
//! Storage and its port), [`office`] (the LibreOffice pool), [`supervisor`]
//! (child-process supervision, for any kind of child), [`outcome`] (the
//! words every layer shares), [`telemetry`] and [`http`] (logs, metrics,
//! probes, push), and the other commands ([`convert`], [`submit`],
//! [`request`]). Each module imports only from layers below its own
//! (docs/design.md, "The house"; `tests/layers.rs` checks it). `main.rs`
//! only wires.

pub mod config;
pub mod convert;
pub mod fonts;
pub mod gcloud;
pub mod http;
mod job;
pub mod office;
pub mod options;
pub mod outcome;
pub mod push;
pub mod request;
mod stdout;
pub mod storage;
pub mod submit;
pub mod supervisor;
pub mod telemetry;
pub mod worker;
pub mod workspace;
