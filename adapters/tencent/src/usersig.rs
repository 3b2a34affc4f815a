//! UserSig v2, the credential of every REST call (reference seed-001 §7.2), as Tencent's
//! own `tls-sig-api-v2` libraries make it: an HMAC-SHA256 over the identifier, app id, time
//! and lifetime, put in a small JSON document, zlib-compressed, then base64 with `+/=`
//! replaced by `*-_`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use parley_vendor::{sign, Clock};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The UserSig of `identifier` issued at `time` (Unix seconds), valid for `expire_secs`.
pub fn generate(
    sdk_app_id: u64,
    secret_key: &str,
    identifier: &str,
    time: i64,
    expire_secs: u64,
) -> String {
    let content = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdk_app_id}\nTLS.time:{time}\nTLS.expire:{expire_secs}\n"
    );
    let sig = STANDARD.encode(sign::hmac_sha256(secret_key.as_bytes(), content.as_bytes()));
    // Laid out as the Python library's `json.dumps` does, so the two are byte-identical
    // before compression (the server parses it, so the layout itself does not matter).
    let doc = format!(
        "{{\"TLS.ver\": \"2.0\", \"TLS.identifier\": {}, \"TLS.sdkappid\": {sdk_app_id}, \"TLS.expire\": {expire_secs}, \"TLS.time\": {time}, \"TLS.sig\": \"{sig}\"}}",
        serde_json::Value::from(identifier)
    );
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(doc.as_bytes()).expect("writing to memory");
    let compressed = z.finish().expect("writing to memory");
    STANDARD
        .encode(compressed)
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

/// The admin's UserSig, generated on first use and again before it expires.
pub struct UserSigCache {
    sdk_app_id: u64,
    secret_key: String,
    identifier: String,
    lifetime: Duration,
    clock: Clock,
    current: Mutex<Option<(String, i64)>>,
}

impl UserSigCache {
    pub fn new(
        sdk_app_id: u64,
        secret_key: String,
        identifier: String,
        lifetime: Duration,
        clock: Clock,
    ) -> Self {
        Self {
            sdk_app_id,
            secret_key,
            identifier,
            lifetime,
            clock,
            current: Mutex::new(None),
        }
    }

    pub fn get(&self) -> String {
        let now = self.clock.unix_secs();
        let mut current = self.current.lock().expect("usersig lock");
        if let Some((sig, renew_at)) = current.as_ref() {
            if now < *renew_at {
                return sig.clone();
            }
        }
        let lifetime = self.lifetime.as_secs();
        let sig = generate(
            self.sdk_app_id,
            &self.secret_key,
            &self.identifier,
            now,
            lifetime,
        );
        // Renewed with a tenth of its lifetime (at most an hour) still to go, so a call
        // never carries a signature about to expire in flight.
        let margin = (lifetime / 10).min(3600) as i64;
        *current = Some((sig.clone(), now + lifetime as i64 - margin));
        sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    pub(crate) fn decode(sig: &str) -> String {
        let b64 = sig.replace('*', "+").replace('-', "/").replace('_', "=");
        let compressed = STANDARD.decode(b64).expect("base64");
        let mut out = String::new();
        ZlibDecoder::new(&compressed[..])
            .read_to_string(&mut out)
            .expect("zlib");
        out
    }

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

    /// Runs Tencent's published Python implementation (`pip install tls-sig-api-v2`) with
    /// its clock fixed at `time`.
    fn python_usersig(
        sdk_app_id: u64,
        key: &str,
        identifier: &str,
        time: i64,
        expire: u64,
    ) -> String {
        let script = format!(
            "import time\ntime.time = lambda: {time}\nimport TLSSigAPIv2\n\
             print(TLSSigAPIv2.TLSSigAPIv2({sdk_app_id}, {key:?}).gen_sig({identifier:?}, {expire}))"
        );
        let out = std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 ({e}); this test needs Python 3 and `pip install tls-sig-api-v2`")
            });
        assert!(
            out.status.success(),
            "Tencent's implementation did not run; install it with `pip install tls-sig-api-v2`:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn matches_tencents_published_implementation() {
        for (app, id, time, expire) in [
            (1400000000u64, "xiaojun", 1_700_000_000i64, 180 * 86400u64),
            (1400123456, "administrator", 1_669_872_112, 86400),
            (20000001, "bot_01@shop", 1_234_567_890, 3600),
        ] {
            let ours = generate(app, KEY, id, time, expire);
            let theirs = python_usersig(app, KEY, id, time, expire);
            // zlib framing lets each implementation compress its own way; the signed
            // document inside must be identical, byte for byte.
            assert_eq!(decode(&ours), decode(&theirs), "UserSig for {id}");
            assert!(ours
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "*-_".contains(c)));
        }
    }

    #[test]
    fn cached_and_renewed_before_expiry() {
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock = {
            let now = now.clone();
            Clock::from_fn(move || {
                std::time::UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst) as u64)
            })
        };
        let cache = UserSigCache::new(
            1400000000,
            KEY.into(),
            "admin".into(),
            Duration::from_secs(86400),
            clock,
        );
        let first = cache.get();
        now.fetch_add(60, Ordering::SeqCst);
        assert_eq!(cache.get(), first, "reused while fresh");
        now.fetch_add(86400 - 3600 - 60, Ordering::SeqCst);
        let renewed = cache.get();
        assert_ne!(renewed, first, "renewed an hour before expiry");
        assert!(decode(&renewed).contains(&format!("\"TLS.time\": {}", 1_000_000 + 86400 - 3600)));
    }
}
