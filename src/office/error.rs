//! Why a conversion failed, and whether trying again could help.

use std::time::Duration;

use super::Fidelity;
use crate::outcome::ErrorKind;

/// A failed conversion. Callers branch on [`ConvertError::is_permanent`]: a
/// permanent error is the document's fault and retrying it is pointless; a
/// transient one is ours or the machine's and a retry may succeed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("the file is empty")]
    Empty,
    #[error("the document is damaged or not what its name says: {0}")]
    Corrupt(String),
    #[error("the document is password-protected; remove the password and upload it again")]
    Encrypted,
    /// A password asked for that could not be had or did not open it.
    #[error("the document is password-protected and {0}")]
    Password(String),
    #[error("unsupported document type: {0}")]
    Unsupported(String),
    /// Options that a document of its kind cannot take.
    #[error("{0}")]
    Inapplicable(String),
    #[error("refused as a decompression bomb: {0}")]
    Bomb(String),
    #[error("the document needs more than a conversion may use: {0}")]
    ResourceLimit(String),
    /// Its PDF, as its `font-policy` judges it; the report says why.
    #[error("{reason}")]
    Fonts {
        reason: String,
        fidelity: Box<Fidelity>,
    },
    #[error(
        "conversion took longer than {0:?}; LibreOffice was killed (raise the job timeout if such documents are legitimate)"
    )]
    Timeout(Duration),
    #[error("LibreOffice crashed during the conversion: {0}")]
    Crashed(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConvertError {
    pub fn is_permanent(&self) -> bool {
        match self {
            ConvertError::Empty
            | ConvertError::Corrupt(_)
            | ConvertError::Encrypted
            | ConvertError::Password(_)
            | ConvertError::Unsupported(_)
            | ConvertError::Inapplicable(_)
            | ConvertError::Bomb(_)
            | ConvertError::ResourceLimit(_)
            | ConvertError::Fonts { .. } => true,
            ConvertError::Timeout(_) | ConvertError::Crashed(_) | ConvertError::Internal(_) => {
                false
            }
        }
    }

    /// The same failure, found in the package `part` inside the document.
    pub fn inside(self, part: &str) -> ConvertError {
        match self {
            ConvertError::Bomb(reason) => ConvertError::Bomb(format!("in {part}: {reason}")),
            ConvertError::Corrupt(reason) => ConvertError::Corrupt(format!("in {part}: {reason}")),
            other => other,
        }
    }

    /// A stable name for logs, metrics and failure records.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConvertError::Empty => ErrorKind::Empty,
            ConvertError::Corrupt(_) => ErrorKind::Corrupt,
            ConvertError::Encrypted | ConvertError::Password(_) => ErrorKind::Encrypted,
            ConvertError::Unsupported(_) => ErrorKind::Unsupported,
            ConvertError::Inapplicable(_) => ErrorKind::BadOptions,
            ConvertError::Bomb(_) => ErrorKind::Bomb,
            ConvertError::ResourceLimit(_) => ErrorKind::ResourceLimit,
            ConvertError::Fonts { .. } => ErrorKind::Fonts,
            ConvertError::Timeout(_) => ErrorKind::Timeout,
            ConvertError::Crashed(_) => ErrorKind::Crashed,
            ConvertError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<std::io::Error> for ConvertError {
    fn from(error: std::io::Error) -> Self {
        ConvertError::Internal(error.to_string())
    }
}
