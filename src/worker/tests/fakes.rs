//! In-memory fakes of the worker's edges: Cloud Storage as a map, a
//! converter that answers from a script, a result topic as a list.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::office::{Conversion, ConvertError, Fidelity, LayoutRisk, Preview};
use crate::options::PdfOptions;
use crate::storage::ObjectRef;
use crate::storage::Objects;
use crate::storage::{Described, Digests, Fetched, StorageError};
use crate::worker::{Announce, Converter};

/// One stored object.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub(super) generation: i64,
    pub(super) body: Vec<u8>,
    pub(super) metadata: HashMap<String, String>,
    /// The body's MD5, as Cloud Storage computes it; None as for a
    /// composite object.
    pub(super) md5: Option<String>,
}

/// Cloud Storage as a map of (bucket, object), with outages on demand.
#[derive(Default)]
pub(super) struct FakeObjects {
    pub(super) objects: Mutex<HashMap<(String, String), Stored>>,
    pub(super) next_generation: AtomicU32,
    /// Downloads that fail as unavailable before one succeeds.
    pub(super) download_outages: AtomicU32,
    /// Every upload fails as unavailable.
    pub(super) uploads_fail: AtomicBool,
    /// Server-side copies made.
    pub(super) copies: AtomicU32,
    /// An object another worker writes just before a copy reads or writes it.
    pub(super) raced_copy: Mutex<Option<(String, String)>>,
}

impl FakeObjects {
    pub(super) fn put(
        &self,
        bucket: &str,
        object: &str,
        body: &[u8],
        metadata: &[(&str, &str)],
    ) -> i64 {
        let generation = 100 + self.next_generation.fetch_add(1, Ordering::SeqCst) as i64;
        let metadata = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let stored = Stored {
            generation,
            body: body.to_vec(),
            metadata,
            md5: Some(crate::worker::cache::md5_hex(body)),
        };
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), object.into()), stored);
        generation
    }

    pub(super) fn get(&self, bucket: &str, object: &str) -> Option<Stored> {
        let key = (bucket.to_string(), object.to_string());
        self.objects.lock().unwrap().get(&key).cloned()
    }
}

impl Objects for Arc<FakeObjects> {
    async fn download(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
        dest: &Path,
        limit: u64,
        mut digests: Digests,
    ) -> Result<Fetched, StorageError> {
        let uri = ObjectRef::new(bucket, object).to_string();
        let outage = self
            .download_outages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if outage.is_ok() {
            let message = "the fake is down".into();
            return Err(StorageError::Unavailable { uri, message });
        }
        let stored = self
            .get(bucket, object)
            .filter(|s| generation.is_none_or(|g| g == s.generation))
            .ok_or(StorageError::NotFound(uri))?;
        if stored.body.len() as u64 > limit {
            let size = Some(stored.body.len() as u64);
            return Err(StorageError::TooLarge { size, limit });
        }
        std::fs::write(dest, &stored.body).unwrap();
        digests.update(&stored.body);
        Ok(digests.finish())
    }

    async fn describe(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
    ) -> Result<Option<Described>, StorageError> {
        let found = self.get(bucket, object);
        Ok(found
            .filter(|s| generation.is_none_or(|g| g == s.generation))
            .map(|stored| Described {
                generation: stored.generation,
                md5: stored.md5,
                size: Some(stored.body.len() as u64),
                metadata: stored.metadata,
            }))
    }

    async fn copy(
        &self,
        from: ObjectRef<'_>,
        from_generation: i64,
        to: ObjectRef<'_>,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        let touched = |o: ObjectRef<'_>| (o.bucket.to_string(), o.name.to_string());
        let (read, written) = (touched(from), touched(to));
        let raced = (self.raced_copy.lock().unwrap()).take_if(|t| *t == read || *t == written);
        if let Some((bucket, object)) = raced {
            self.put(&bucket, &object, b"%PDF- the racer's", &[]);
        }
        let source = (self.get(from.bucket, from.name))
            .filter(|s| s.generation == from_generation)
            .ok_or_else(|| StorageError::NotFound(from.to_string()))?;
        let body = bytes::Bytes::from(source.body);
        let made = self.upload(
            to.bucket,
            to.name,
            body,
            "application/pdf",
            metadata,
            if_generation,
        );
        let generation = made.await?;
        self.copies.fetch_add(1, Ordering::SeqCst);
        Ok(generation)
    }

    async fn upload(
        &self,
        bucket: &str,
        object: &str,
        body: bytes::Bytes,
        _content_type: &str,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        let uri = ObjectRef::new(bucket, object).to_string();
        if self.uploads_fail.load(Ordering::SeqCst) {
            let message = "the fake refuses writes".into();
            return Err(StorageError::Unavailable { uri, message });
        }
        let current = self.get(bucket, object).map_or(0, |s| s.generation);
        if if_generation.is_some_and(|g| g != current) {
            return Err(StorageError::Changed(uri));
        }
        let metadata: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(self.put(bucket, object, &body, &metadata))
    }
}

/// A converter that answers from a script (then succeeds), taking `delay`.
#[derive(Default)]
pub(super) struct FakeConverter {
    pub(super) script: Mutex<VecDeque<ConvertError>>,
    pub(super) calls: AtomicU32,
    /// The options of each conversion, described.
    pub(super) options: Mutex<Vec<String>>,
    pub(super) delay: Duration,
    /// Conversions running now, and the most that ran at once.
    pub(super) running: AtomicU32,
    pub(super) most_at_once: AtomicU32,
}

impl FakeConverter {
    pub(super) fn failing(errors: impl IntoIterator<Item = ConvertError>) -> FakeConverter {
        FakeConverter {
            script: Mutex::new(errors.into_iter().collect()),
            ..FakeConverter::default()
        }
    }
}

impl Converter for FakeConverter {
    async fn convert(
        &self,
        _input: &Path,
        _name: &Path,
        output: &Path,
        options: &PdfOptions,
    ) -> Result<Conversion, ConvertError> {
        self.options
            .lock()
            .unwrap()
            .push(options.describe().to_string());
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        if let Some(error) = self.script.lock().unwrap().pop_front() {
            return Err(error);
        }
        std::fs::write(output, b"%PDF-1.7 fake").unwrap();
        let preview = options.preview.map(|width| {
            let path = crate::office::preview_path(output);
            std::fs::write(&path, b"\x89PNG fake").unwrap();
            Preview {
                path,
                width,
                height: width,
                bytes: 9,
            }
        });
        Ok(Conversion {
            slot: 0,
            queue_wait: Duration::ZERO,
            convert_time: self.delay,
            pdf_bytes: 13,
            fidelity: Fidelity {
                pages: 1,
                fonts: Vec::new(),
                embedded: Vec::new(),
                missing_glyphs: Default::default(),
                layout_risk: LayoutRisk::None,
                csv: None,
            },
            preview,
        })
    }

    async fn stop(&self) {}
}

/// The result topic as a list of outcomes.
#[derive(Default)]
pub(super) struct FakeAnnounce {
    pub(super) outcomes: Mutex<Vec<&'static str>>,
    /// Each event, as JSON.
    pub(super) events: Mutex<Vec<serde_json::Value>>,
}

impl Announce for Arc<FakeAnnounce> {
    async fn announce(&self, outcome: &'static str, event: Vec<u8>) -> Result<(), String> {
        self.outcomes.lock().unwrap().push(outcome);
        let event = serde_json::from_slice(&event).map_err(|e| e.to_string())?;
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}
