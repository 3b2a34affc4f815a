//! The admin API, guarded by a bearer token: `POST /hub/admin/users` (users and bot
//! accounts), `POST /hub/admin/groups` and `POST /hub/admin/groups/{id}/members`, so a
//! deployment can be seeded without the WebSocket.

use crate::error::HubError;
use crate::groups::NewGroup;
use crate::hub::Hub;
use crate::store::{GroupKind, InfoPolicy, JoinPolicy, Role};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

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
#[serde(deny_unknown_fields)]
struct NewUser {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /hub/admin/groups`: the `create_group` request's fields and the owner.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminNewGroup {
    owner: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    kind: Option<GroupKind>,
    name: String,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    join_policy: Option<JoinPolicy>,
    #[serde(default)]
    info_policy: Option<InfoPolicy>,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    ext: Value,
}

/// `POST /hub/admin/groups/{id}/members`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMembers {
    users: Vec<String>,
    /// `member` (default) or `admin`.
    #[serde(default)]
    role: Option<Role>,
}

/// The body as `T`, or the 400 naming what is wrong with it (`example` shows the shape).
fn parse_body<T: DeserializeOwned>(body: &[u8], example: &str) -> Result<T, Box<HttpResponse>> {
    serde_json::from_slice(body).map_err(|e| {
        let message = format!("expected {example}: {e}");
        Box::new(error(StatusCode::BAD_REQUEST, "invalid_request", message))
    })
}

/// The response for a failed hub operation: the error's code with a matching status;
/// internal failures are logged, not shown.
fn hub_error(e: HubError, what: &str) -> HttpResponse {
    let status = match e.code() {
        "invalid" => StatusCode::BAD_REQUEST,
        "not_found" => StatusCode::NOT_FOUND,
        "conflict" | "group_full" => StatusCode::CONFLICT,
        "not_permitted" => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if e.is_internal() {
        tracing::error!(error = %e, "hub admin: {what} failed");
        return error(
            status,
            "internal",
            format!("the hub failed to {what}; see its log"),
        );
    }
    error(status, e.code(), e.to_string())
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
    let new: NewUser = match parse_body(&body, r#"{"id": "...", "name": "..."}"#) {
        Ok(new) => new,
        Err(refused) => return *refused,
    };
    match hub.create_user(&new.id, new.name.as_deref()).await {
        Ok(user) => HttpResponse::Created().json(user),
        Err(e) => hub_error(e, "create the user"),
    }
}

pub(crate) async fn create_group(
    req: HttpRequest,
    body: web::Bytes,
    hub: web::Data<Hub>,
    auth: web::Data<AdminAuth>,
) -> HttpResponse {
    if let Some(refused) = auth.check(&req) {
        return refused;
    }
    let example = r#"{"owner": "alice", "name": "Team", "members": ["bob"], ...}"#;
    let new: AdminNewGroup = match parse_body(&body, example) {
        Ok(new) => new,
        Err(refused) => return *refused,
    };
    let group = NewGroup {
        id: new.id,
        kind: new.kind.unwrap_or(GroupKind::Private),
        name: new.name,
        members: new.members,
        join_policy: new.join_policy,
        info_policy: new.info_policy,
        capacity: new.capacity,
        avatar_url: new.avatar_url,
        description: new.description,
        ext: new.ext,
    };
    match hub.admin_create_group(&new.owner, group).await {
        Ok(group) => HttpResponse::Created().json(group),
        Err(e) => hub_error(e, "create the group"),
    }
}

pub(crate) async fn add_members(
    req: HttpRequest,
    group: web::Path<String>,
    body: web::Bytes,
    hub: web::Data<Hub>,
    auth: web::Data<AdminAuth>,
) -> HttpResponse {
    if let Some(refused) = auth.check(&req) {
        return refused;
    }
    let new: NewMembers = match parse_body(&body, r#"{"users": ["bob"], "role": "member"}"#) {
        Ok(new) => new,
        Err(refused) => return *refused,
    };
    let role = new.role.unwrap_or(Role::Member);
    match hub.admin_add_members(&group, new.users, role).await {
        Ok((group, added)) => HttpResponse::Ok().json(json!({"group": group, "added": added})),
        Err(e) => hub_error(e, "add the members"),
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
