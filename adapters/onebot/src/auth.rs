//! Checks on requests from the implementation: the access token (`Authorization: Bearer`
//! or `Token`, or the `access_token` query), the `X-Self-ID` account, and the HMAC-SHA1
//! `X-Signature` of HTTP POST events.

use actix_web::HttpRequest;
use hmac::{Hmac, Mac};
use parley_vendor::sign::{constant_time_eq, hex_eq};
use sha1::Sha1;

pub fn check_token(req: &HttpRequest, expected: Option<&str>) -> Result<(), String> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                .then(|| token.trim().to_string())
        });
    let from_query = || {
        url_query(req.query_string())
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    };
    match from_header.or_else(from_query) {
        None => Err(
            "no access token (an `Authorization: Bearer` header or an `access_token` query)".into(),
        ),
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err("wrong access token".into()),
    }
}

fn url_query(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// The `X-Self-ID` header, when sent, must be this connection's account.
pub fn check_self_id(req: &HttpRequest, self_id: u64) -> Result<(), String> {
    match req
        .headers()
        .get("x-self-id")
        .map(|v| v.to_str().unwrap_or_default().trim())
    {
        None => Ok(()),
        Some(v) if v == self_id.to_string() => Ok(()),
        Some(v) => Err(format!(
            "X-Self-ID {v:?} is not this connection's account {self_id}"
        )),
    }
}

pub fn check_signature(body: &[u8], header: Option<&str>, secret: &str) -> Result<(), String> {
    let received = header
        .and_then(|h| h.strip_prefix("sha1="))
        .ok_or("no `X-Signature: sha1=...` header")?;
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    if hex_eq(&hex::encode(mac.finalize().into_bytes()), received) {
        Ok(())
    } else {
        Err("the X-Signature does not match the body".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn tokens() {
        let ok = |r: TestRequest| check_token(&r.to_http_request(), Some("s3cret"));
        assert!(
            ok(TestRequest::default().insert_header(("Authorization", "Bearer s3cret"))).is_ok()
        );
        assert!(
            ok(TestRequest::default().insert_header(("Authorization", "Token s3cret"))).is_ok()
        );
        assert!(ok(TestRequest::with_uri("/x?access_token=s3cret")).is_ok());
        assert_eq!(
            ok(TestRequest::with_uri("/x?access_token=nope")).unwrap_err(),
            "wrong access token"
        );
        assert!(ok(TestRequest::default())
            .unwrap_err()
            .starts_with("no access token"));
        assert!(check_token(&TestRequest::default().to_http_request(), None).is_ok());
        let r = TestRequest::default()
            .insert_header(("X-Self-ID", "2"))
            .to_http_request();
        assert!(check_self_id(&r, 2).is_ok());
        assert!(check_self_id(&r, 3)
            .unwrap_err()
            .contains("not this connection's account 3"));
    }

    #[test]
    fn signature() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), RFC 2104 example.
        let body = b"The quick brown fox jumps over the lazy dog";
        let sig = "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9";
        assert!(check_signature(body, Some(sig), "key").is_ok());
        assert!(check_signature(b"other", Some(sig), "key").is_err());
        assert!(check_signature(body, None, "key").is_err());
    }
}
