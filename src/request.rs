//! `docx2pdf request`: the original service's client. It makes an OIDC ID
//! token for the worker's URL (from a service-account key, or Application
//! Default Credentials) and POSTs the push envelope the service accepted.

use std::process::ExitCode;

use anyhow::Context;
use google_cloud_auth::credentials::idtoken;

use crate::config::RequestArgs;
use crate::outcome::{OUTCOME_HEADER, Outcome};
use crate::storage::ObjectRef;

pub async fn run(args: RequestArgs) -> anyhow::Result<ExitCode> {
    let url = reqwest::Url::parse(&args.url)
        .with_context(|| format!("{:?} is not a URL (https://SERVICE.run.app)", args.url))?;
    let audience = args
        .audience
        .clone()
        .unwrap_or_else(|| url.origin().ascii_serialization());
    let token = match &args.id_token {
        Some(token) => token.clone(),
        None => id_token(&args, &audience).await?,
    };
    let envelope = serde_json::json!({
        "message": { "attributes": { "bucketId": args.bucket, "objectId": args.object } }
    });
    let response = reqwest::Client::new()
        .post(url.clone())
        .bearer_auth(token)
        .json(&envelope)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let outcome: Option<Outcome> = response
        .headers()
        .get(OUTCOME_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.text().await.unwrap_or_default();
    let what = ObjectRef::new(&args.bucket, &args.object);
    if status.is_success() {
        let detail = match outcome {
            Some(Outcome::Converted | Outcome::Cached | Outcome::Skipped) => {
                "the PDF is in the output bucket"
            }
            Some(Outcome::FailedPermanent) => {
                "not convertible: the reason is in <object>.error.json in the output bucket"
            }
            Some(Outcome::Ignored) => "not a document to convert",
            Some(Outcome::Nacked) | None => "the PDF or a failure record is in the output bucket",
        };
        let shown = outcome.map_or("done", Outcome::as_str);
        crate::stdout::line(format_args!("{what}: {shown} (HTTP {status}): {detail}"));
        return Ok(if outcome == Some(Outcome::FailedPermanent) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let hint = match status.as_u16() {
        401 => "the token was refused: is --audience the service URL?",
        403 => "this identity may not call the service: grant it roles/run.invoker",
        500..=599 => "a transient failure: try again later",
        _ => "",
    };
    eprintln!("docx2pdf: {what}: HTTP {status}: {} {hint}", body.trim());
    // The request itself failed, not the document: as for any fatal error.
    Ok(ExitCode::from(2))
}

async fn id_token(args: &RequestArgs, audience: &str) -> anyhow::Result<String> {
    let credentials = match &args.credentials {
        Some(path) => {
            let key = crate::gcloud::service_account_key(path)?;
            idtoken::service_account::Builder::new(audience, key)
                .build()
                .with_context(|| format!("--credentials {}", path.display()))?
        }
        None => idtoken::Builder::new(audience).build().context(
            "no credentials: pass --credentials KEY.json, set GOOGLE_APPLICATION_CREDENTIALS, or --id-token",
        )?,
    };
    credentials
        .id_token()
        .await
        .with_context(|| format!("cannot make an ID token for {audience}"))
}
