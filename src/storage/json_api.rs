//! The Cloud Storage calls the crate's HTTP client lacks, on the JSON
//! API: an object's metadata with its MD5 (`objects.get`), a server-side
//! copy (`objects.rewrite`), and the objects under a prefix
//! (`objects.list`). The crate has both only on its gRPC
//! `StorageControl`, which fake-gcs-server does not serve, and a read's
//! `x-goog-hash` is not promised for a ranged read. A failed call is not
//! retried here: the message's nack is the retry.

use std::collections::HashMap;
use std::time::Duration;

use google_cloud_auth::credentials::{CacheableResource, Credentials};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::ObjectRef;
use super::StorageError;

const GOOGLE: &str = "https://storage.googleapis.com";

/// The JSON API at an endpoint, with the credentials of the other clients.
#[derive(Clone)]
pub(crate) struct JsonApi {
    http: reqwest::Client,
    endpoint: String,
    /// Anonymous for an emulator: no headers.
    credentials: Credentials,
}

/// What `objects.get` says of an object (the fields we read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Resource {
    #[serde(deserialize_with = "number_in_string")]
    pub generation: i64,
    /// Base64; absent for composite objects.
    pub md5_hash: Option<String>,
    /// Bytes, written as a string.
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

/// One page of `objects.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    #[serde(default)]
    items: Vec<Listed>,
    next_page_token: Option<String>,
}

/// An object `objects.list` names, and its size.
#[derive(Debug, Deserialize)]
pub struct Listed {
    pub name: String,
    /// Bytes, written as a string.
    #[serde(deserialize_with = "number_in_string")]
    pub size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rewrite {
    done: bool,
    rewrite_token: Option<String>,
    resource: Option<Resource>,
}

/// The JSON API writes 64-bit numbers as strings.
fn number_in_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl JsonApi {
    /// `endpoint`: an emulator's URL, or None for Google's.
    pub(crate) fn new(
        endpoint: Option<String>,
        credentials: Credentials,
        timeout: Duration,
    ) -> anyhow::Result<JsonApi> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let endpoint = endpoint.unwrap_or_else(|| GOOGLE.into());
        Ok(JsonApi {
            http,
            endpoint,
            credentials,
        })
    }

    /// The object's metadata (at `generation`, if given); None if absent.
    pub(super) async fn get(
        &self,
        object: ObjectRef<'_>,
        generation: Option<i64>,
    ) -> Result<Option<Resource>, StorageError> {
        let mut url = self.url(object, &["b", object.bucket, "o", object.name])?;
        if let Some(generation) = generation {
            url.query_pairs_mut()
                .append_pair("generation", &generation.to_string());
        }
        let request = self.http.get(url);
        match self.send(request, object).await {
            Ok(response) => Ok(Some(parse(response, object).await?)),
            Err(StorageError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The objects of `bucket` whose names begin with `prefix`, at most
    /// `most` of them (then the listing stops).
    pub(super) async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        most: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        let called = ObjectRef::new(bucket, prefix);
        let url = self.url(called, &["b", bucket, "o"])?;
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut call = url.clone();
            call.query_pairs_mut().append_pair("prefix", prefix);
            if let Some(token) = &token {
                call.query_pairs_mut().append_pair("pageToken", token);
            }
            let response = self.send(self.http.get(call), called).await?;
            let page: Listing = parse(response, called).await?;
            listed.extend(page.items);
            match page.next_page_token {
                Some(next) if listed.len() < most => token = Some(next),
                _ => return Ok(listed),
            }
        }
    }

    /// Copies generation `from.1` of `from.0` to `to` inside Cloud Storage,
    /// replacing its metadata, only if `to` is still at `if_generation` (0:
    /// absent) when given; the copy's generation.
    pub(super) async fn rewrite(
        &self,
        (from, from_generation): (ObjectRef<'_>, i64),
        to: ObjectRef<'_>,
        content_type: &str,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        let mut url = self.url(
            from,
            &[
                "b",
                from.bucket,
                "o",
                from.name,
                "rewriteTo",
                "b",
                to.bucket,
                "o",
                to.name,
            ],
        )?;
        // That generation or nothing: a PDF replaced since is not copied.
        url.query_pairs_mut()
            .append_pair("sourceGeneration", &from_generation.to_string());
        if let Some(generation) = if_generation {
            url.query_pairs_mut()
                .append_pair("ifGenerationMatch", &generation.to_string());
        }
        let metadata: HashMap<&str, &str> =
            metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = serde_json::json!({ "contentType": content_type, "metadata": metadata });
        // Large copies across locations take several calls, each resuming
        // from the token of the last.
        let mut token: Option<String> = None;
        loop {
            let mut call = url.clone();
            if let Some(token) = &token {
                call.query_pairs_mut().append_pair("rewriteToken", token);
            }
            let response = self.send(self.http.post(call).json(&body), to).await?;
            let step: Rewrite = parse(response, to).await?;
            match step {
                Rewrite {
                    done: true,
                    resource: Some(resource),
                    ..
                } => return Ok(resource.generation),
                Rewrite {
                    rewrite_token: Some(next),
                    done: false,
                    ..
                } => token = Some(next),
                _ => {
                    return Err(StorageError::Unavailable {
                        uri: to.to_string(),
                        message: "a rewrite answered neither done nor how to go on".into(),
                    });
                }
            }
        }
    }

    /// The JSON API's URL of `segments` (bucket and object names among
    /// them); `object` names the call in an error.
    fn url(&self, object: ObjectRef<'_>, segments: &[&str]) -> Result<reqwest::Url, StorageError> {
        reqwest::Url::parse(&api_path(&self.endpoint, segments)).map_err(|_| bad_url(object))
    }

    /// Sends with credentials; an answer other than 2xx is an error.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        object: ObjectRef<'_>,
    ) -> Result<reqwest::Response, StorageError> {
        let uri = object.to_string();
        let unavailable = |message: String| StorageError::Unavailable {
            uri: uri.clone(),
            message,
        };
        let mut request = request;
        let headers = (self.credentials.headers(Default::default()).await)
            .map_err(|e| unavailable(format!("credentials: {e}")))?;
        if let CacheableResource::New { data, .. } = headers {
            request = request.headers(data);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let message = response.text().await.unwrap_or_default();
        Err(super::by_status(uri, Some(status), message))
    }
}

/// Every byte of a name but the unreserved characters is percent-encoded:
/// a name is data, and a URL parser drops a tab or a newline from a path
/// segment it is given and reads `?`, `#` and `%` as syntax.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `endpoint/storage/v1/` and the segments, each percent-encoded whole.
fn api_path(endpoint: &str, segments: &[&str]) -> String {
    let mut path = format!("{}/storage/v1", endpoint.trim_end_matches('/'));
    for segment in segments {
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    path
}

async fn parse<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    object: ObjectRef<'_>,
) -> Result<T, StorageError> {
    response
        .json()
        .await
        .map_err(|e| StorageError::Unavailable {
            uri: object.to_string(),
            message: format!("an answer we could not read: {e}"),
        })
}

fn bad_url(object: ObjectRef<'_>) -> StorageError {
    StorageError::Rejected {
        uri: object.to_string(),
        message: "the storage endpoint is not a URL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name Cloud Storage accepts, as the path of the URL the call
    /// sends: the name comes back whole when the server decodes it.
    /// The control: a name pushed as a path segment through the URL parser
    /// (as these calls did) loses its tab.
    #[test]
    fn the_url_parser_drops_a_tab_from_a_segment() {
        let mut url = reqwest::Url::parse("http://127.0.0.2/o/").unwrap();
        url.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .push("Q3\treport.docx");
        assert_eq!(url.path(), "/o/Q3report.docx");
    }

    #[test]
    fn names_reach_the_server_whole() {
        let long = "n".repeat(1024);
        let names = [
            "Q3\treport.docx",
            "100%.docx",
            "#1.docx",
            "why?.docx",
            "a/b c.docx",
            "ünï côdé.docx",
            &long,
        ];
        for name in names {
            let path = api_path("http://127.0.0.2/", &["b", "in", "o", name]);
            let url = reqwest::Url::parse(&path).unwrap();
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            assert_eq!(segments.len(), 6, "{name:?}: {url}");
            let sent = percent_encoding::percent_decode_str(segments[5])
                .decode_utf8()
                .unwrap();
            assert_eq!(sent, name);
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        }
    }
}
