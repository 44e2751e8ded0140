//! Who may send push requests, and the check of those settings.

use clap::Args;

/// Who may send push requests. Unset, the worker trusts whoever reaches
/// it: on Cloud Run, IAM (`--no-allow-unauthenticated`) checks the token.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push requests must carry a Google-signed ID token for one of these audiences (comma-separated)
    #[arg(long, env = "PUSH_AUDIENCE", value_delimiter = ',')]
    pub push_audience: Vec<String>,
    /// The token's email must be one of these service accounts (comma-separated) [needs PUSH_AUDIENCE]
    #[arg(long, env = "PUSH_SERVICE_ACCOUNTS", value_delimiter = ',')]
    pub push_service_accounts: Vec<String>,
    /// Accept a valid token from any Google account: anyone can mint one for any audience [with PUSH_AUDIENCE, instead of PUSH_SERVICE_ACCOUNTS]
    #[arg(long, env = "PUSH_ALLOW_ANY_ACCOUNT")]
    pub push_allow_any_account: bool,
    /// Where the token signers' public keys are published
    #[arg(
        long,
        env = "PUSH_JWKS_URL",
        default_value = "https://www.googleapis.com/oauth2/v3/certs",
        hide = true
    )]
    pub push_jwks_url: String,
}

/// The push token check, as validated settings.
#[derive(Clone, Debug)]
pub struct PushAuth {
    pub audiences: Vec<String>,
    pub service_accounts: Vec<String>,
    pub jwks_url: String,
}

impl PushArgs {
    pub fn auth(&self) -> anyhow::Result<Option<PushAuth>> {
        let nonempty = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let audiences = nonempty(&self.push_audience);
        let service_accounts = nonempty(&self.push_service_accounts);
        if audiences.is_empty() {
            if !service_accounts.is_empty() {
                anyhow::bail!(
                    "PUSH_SERVICE_ACCOUNTS needs PUSH_AUDIENCE: set it to the audience of the push subscription's token (--push-auth-token-audience, or the service URL)"
                );
            }
            return Ok(None);
        }
        match (service_accounts.is_empty(), self.push_allow_any_account) {
            (true, false) => anyhow::bail!(
                "PUSH_AUDIENCE alone accepts a token from any Google account (anyone can mint one for any audience): list the push subscription's service account in PUSH_SERVICE_ACCOUNTS, or set PUSH_ALLOW_ANY_ACCOUNT=true if any account may push"
            ),
            (false, true) => anyhow::bail!(
                "PUSH_SERVICE_ACCOUNTS and PUSH_ALLOW_ANY_ACCOUNT=true contradict each other: keep one"
            ),
            _ => {}
        }
        if let Some(bad) = service_accounts.iter().find(|s| !s.contains('@')) {
            anyhow::bail!("PUSH_SERVICE_ACCOUNTS: {bad:?} is not an email address");
        }
        Ok(Some(PushAuth {
            audiences,
            service_accounts,
            jwks_url: self.push_jwks_url.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(audience: &[&str], accounts: &[&str]) -> PushArgs {
        PushArgs {
            push_audience: audience.iter().map(|s| s.to_string()).collect(),
            push_service_accounts: accounts.iter().map(|s| s.to_string()).collect(),
            push_allow_any_account: false,
            push_jwks_url: "https://keys.example/certs".into(),
        }
    }

    #[test]
    fn push_auth_is_off_without_an_audience() {
        assert!(push(&[], &[]).auth().unwrap().is_none());
        assert!(push(&[" "], &[]).auth().unwrap().is_none());
    }

    #[test]
    fn push_auth_settings_are_checked() {
        let error = push(&[], &["a@p.iam.gserviceaccount.com"])
            .auth()
            .unwrap_err();
        assert!(error.to_string().contains("needs PUSH_AUDIENCE"), "{error}");
        let error = push(&["https://x.run.app"], &["not-an-email"])
            .auth()
            .unwrap_err();
        assert!(error.to_string().contains("not an email"), "{error}");
        let auth = push(&["https://x.run.app", ""], &["a@p.iam.gserviceaccount.com"])
            .auth()
            .unwrap()
            .unwrap();
        assert_eq!(auth.audiences, ["https://x.run.app"]);
        assert_eq!(auth.service_accounts, ["a@p.iam.gserviceaccount.com"]);
    }

    #[test]
    fn an_audience_alone_is_refused_unless_any_account_is_meant() {
        let error = push(&["https://x.run.app"], &[]).auth().unwrap_err();
        assert!(
            error.to_string().contains("PUSH_ALLOW_ANY_ACCOUNT=true"),
            "{error}"
        );
        let mut any = push(&["https://x.run.app"], &[]);
        any.push_allow_any_account = true;
        let auth = any.auth().unwrap().unwrap();
        assert!(auth.service_accounts.is_empty());
        let mut both = push(&["https://x.run.app"], &["a@p.iam.gserviceaccount.com"]);
        both.push_allow_any_account = true;
        assert!(both.auth().unwrap_err().to_string().contains("contradict"));
    }
}
