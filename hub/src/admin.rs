//! The admin API (`POST /hub/admin/users`), guarded by a bearer token.

use crate::hub::Hub;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// The configured admin token, if any.
pub(crate) struct AdminAuth {
    token: Option<String>,
}

impl AdminAuth {
    pub fn new(token: Option<String>) -> Self {
        // An empty token would make `Bearer ` a valid credential: treat it as none.
        AdminAuth {
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// None if the request may proceed, else the error response.
    fn check(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let Some(expected) = &self.token else {
            return Some(error(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "the hub admin API is disabled: no admin token is configured",
            ));
        };
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => None,
            Some(_) => Some(unauthorized("the bearer token is not the admin token")),
            None => Some(unauthorized(
                "missing `Authorization: Bearer <admin token>` header",
            )),
        }
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({"code": code, "message": message.into()}))
}

fn unauthorized(message: &str) -> HttpResponse {
    let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct NewUser {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

pub(crate) async fn create_user(
    req: HttpRequest,
    body: web::Bytes,
    hub: web::Data<Hub>,
    auth: web::Data<AdminAuth>,
) -> HttpResponse {
    if let Some(refused) = auth.check(&req) {
        return refused;
    }
    let new: NewUser = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(e) => {
            let message = format!(r#"expected {{"id": "...", "name": "..."}}: {e}"#);
            return error(StatusCode::BAD_REQUEST, "invalid_request", message);
        }
    };
    match hub.create_user(&new.id, new.name.as_deref()).await {
        Ok(user) => HttpResponse::Created().json(user),
        Err(e) => {
            let status = match e.code() {
                "invalid" => StatusCode::BAD_REQUEST,
                "conflict" => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            if e.is_internal() {
                tracing::error!(error = %e, "hub admin: creating a user failed");
                return error(
                    status,
                    "internal",
                    "the hub failed to create the user; see its log",
                );
            }
            error(status, e.code(), e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
    }
}
