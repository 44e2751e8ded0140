//! What a LibreOffice process's answer, or the supervisor's account of
//! its failure, means for the document: the [`ConvertError`] it becomes.

use super::{ConvertError, Pool, child};
use crate::supervisor::{CallError, MemoryUse};

impl Pool {
    pub(super) fn call_failed(&self, error: CallError) -> ConvertError {
        match error {
            CallError::Timeout(deadline) => ConvertError::Timeout(deadline),
            CallError::Died(cause) => ConvertError::Crashed(cause),
            CallError::MemoryLimit(memory) => memory_limit_reached(memory),
            CallError::ScratchCap { held, cap } => ConvertError::ResourceLimit(format!(
                "LibreOffice held {} MiB in files converting it, over the {} MiB a conversion may (SCRATCH_LIMIT_MIB)",
                held >> 20,
                cap >> 20
            )),
            CallError::CpuCap(budget) => ConvertError::ResourceLimit(format!(
                "LibreOffice used up the CPU time a conversion may use ({} s, twice JOB_TIMEOUT)",
                budget.as_secs()
            )),
            CallError::Misbehaved(error) => {
                ConvertError::Crashed(format!("its process misbehaved and was replaced: {error}"))
            }
            CallError::Prepare(error) => {
                ConvertError::Internal(format!("placing the document for LibreOffice: {error}"))
            }
            error @ CallError::NoProcess(_) => ConvertError::Internal(error.to_string()),
            CallError::Stopped => ConvertError::Internal("the pool is shutting down".into()),
        }
    }

    /// What LibreOffice's answer means. A load or export that failed with
    /// the process at its memory cap failed for the cap, not the document's
    /// damage: the kernel refused LibreOffice the memory, and it gave up.
    pub(super) fn answered(
        &self,
        response: child::Response,
        memory: MemoryUse,
    ) -> Result<(), ConvertError> {
        match response {
            child::Response::Converted => Ok(()),
            child::Response::Encrypted => Err(ConvertError::Encrypted),
            child::Response::PasswordRefused => Err(ConvertError::Password(
                "the password it names did not open it".into(),
            )),
            child::Response::LoadFailed { .. } | child::Response::SaveFailed { .. }
                if memory.reached() =>
            {
                Err(memory_limit_reached(memory))
            }
            child::Response::LoadFailed { message } => Err(ConvertError::Corrupt(format!(
                "LibreOffice could not read it ({message})"
            ))),
            child::Response::FileSizeCap => Err(ConvertError::ResourceLimit(format!(
                "the PDF, or a file LibreOffice needed to make it, would be larger than {} bytes (MAX_OUTPUT_BYTES)",
                self.max_output_bytes
            ))),
            child::Response::SaveFailed { message } => Err(ConvertError::Internal(format!(
                "PDF export failed: {message}"
            ))),
        }
    }

    /// How many font files the deployment brought (`FONTS`).
    pub fn own_fonts(&self) -> usize {
        self.own_fonts
    }
}

fn memory_limit_reached(memory: MemoryUse) -> ConvertError {
    ConvertError::ResourceLimit(format!(
        "LibreOffice reached its memory cap converting it ({} MiB used of {} MiB; SLOT_MEMORY_LIMIT_MIB)",
        memory.peak.bytes >> 20,
        memory.limit >> 20
    ))
}
