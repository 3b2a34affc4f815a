//! The hub's HTTP surface on the host's actix-web app: the WebSocket and the admin API.

use crate::admin::{self, AdminAuth};
use crate::hub::Hub;
use crate::ws;
use actix_web::web;

impl Hub {
    /// Mounts `GET /hub/ws` (the WebSocket protocol) and the admin API (`POST
    /// /hub/admin/users`, `POST /hub/admin/groups`, `POST /hub/admin/groups/{id}/members`)
    /// on an actix-web app: `App::new().configure(hub.configure(admin_token))`.
    ///
    /// The admin calls need `Authorization: Bearer <admin_token>`; with `None` the admin
    /// API answers 403 saying no admin token is configured.
    pub fn configure(
        &self,
        admin_token: Option<String>,
    ) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        let hub = web::Data::new(self.clone());
        let auth = web::Data::new(AdminAuth::new(admin_token));
        move |cfg: &mut web::ServiceConfig| {
            // Per-resource data, not app-wide: the host app may register data of its own.
            cfg.service(
                web::resource("/hub/ws")
                    .app_data(hub.clone())
                    .route(web::get().to(ws::handler)),
            );
            cfg.service(
                web::resource("/hub/admin/users")
                    .app_data(hub.clone())
                    .app_data(auth.clone())
                    .route(web::post().to(admin::create_user)),
            );
            cfg.service(
                web::resource("/hub/admin/groups")
                    .app_data(hub.clone())
                    .app_data(auth.clone())
                    .route(web::post().to(admin::create_group)),
            );
            cfg.service(
                web::resource("/hub/admin/groups/{id}/members")
                    .app_data(hub.clone())
                    .app_data(auth.clone())
                    .route(web::post().to(admin::add_members)),
            );
        }
    }
}
