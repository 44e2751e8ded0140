//! The volume the slots' scratch is on, and whose fault a failure is when
//! it is full.
//!
//! On Cloud Run `/tmp` is one in-memory volume shared by every LibreOffice
//! process and the worker's job files. When it fills, LibreOffice fails in
//! whatever way it meets it first (a load it "could not read", a failed
//! export, a memory cap reached while it spins), for whichever document
//! happened to be converting. That document is not to blame: one whose own
//! files are too many is stopped at its `SCRATCH_LIMIT_MIB` first. So a
//! failure that would be the document's, met with the volume full, is the
//! machine's: transient, and tried again.

use std::path::Path;

use super::ConvertError;

/// Free space below this is full. An absolute figure, not a share of the
/// volume: a CI runner's 250 GB disk with 3.7 GB free is roomy, though
/// that is under a fiftieth of it.
const FULL_BELOW: u64 = 32 << 20;

#[derive(Clone, Copy, Debug)]
pub(super) struct Space {
    available: u64,
    total: u64,
}

/// The space on the volume holding `dir`, if the kernel says.
pub(super) fn space(dir: &Path) -> Option<Space> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    let unit = stat.fragment_size() as u64;
    Some(Space {
        available: stat.blocks_available() as u64 * unit,
        total: stat.blocks() as u64 * unit,
    })
}

/// Says at start when the volume holding `dir` is smaller than `needed`
/// (every slot at its scratch budget): it would fill before a budget stops
/// the document that fills it.
pub(super) fn warn_if_small(dir: &Path, needed: u64) {
    if let Some(space) = space(dir)
        && space.total < needed
    {
        tracing::warn!(
            volume_mib = space.total >> 20,
            needed_mib = needed >> 20,
            "the scratch volume is smaller than POOL_SIZE x SCRATCH_LIMIT_MIB: give /tmp more room or lower SCRATCH_LIMIT_MIB (docs/operations.md, Sizing)"
        );
    }
}

/// `error`, or the machine's fault in its place when it would be the
/// document's and the volume is full.
pub(super) fn blame(error: ConvertError, space: Option<Space>) -> ConvertError {
    match space {
        Some(space) if error.is_permanent() && space.available < FULL_BELOW => {
            ConvertError::Internal(format!(
                "the scratch volume was full ({} MiB free of {} MiB), so this is not the document's fault ({error}); \
                 size /tmp for POOL_SIZE x SCRATCH_LIMIT_MIB plus the job files (docs/operations.md)",
                space.available >> 20,
                space.total >> 20
            ))
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_documents_failure_on_a_full_volume_is_the_machines() {
        let full = Space {
            available: 10 << 20,
            total: GIB,
        };
        let blamed = blame(
            ConvertError::Corrupt("could not read it".into()),
            Some(full),
        );
        assert!(!blamed.is_permanent(), "{blamed}");
        assert!(blamed.to_string().contains("could not read it"), "{blamed}");
    }

    #[test]
    fn with_room_or_unknown_space_the_verdict_stands() {
        let roomy = Space {
            available: GIB / 2,
            total: GIB,
        };
        let large_and_busy = Space {
            available: 3703 << 20,
            total: 258019 << 20,
        };
        for space in [Some(roomy), Some(large_and_busy), None] {
            let kept = blame(ConvertError::ResourceLimit("memory cap".into()), space);
            assert!(kept.is_permanent(), "{kept}");
        }
        let full = Space {
            available: 0,
            total: GIB,
        };
        let transient = blame(
            ConvertError::Timeout(std::time::Duration::from_secs(1)),
            Some(full),
        );
        assert_eq!(transient.kind(), "timeout");
    }
}
