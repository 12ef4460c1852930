//! The web console (`docs/console.md`): plain HTML, CSS and JavaScript from
//! `connect-worker/ui/`, compiled into the binary so that it works offline, with no CDN and
//! no Node toolchain. `GET /ui` redirects to `/ui/`, which serves the page; `/ui/{file}`
//! serves its other files. The files hold no data and are served without credentials; the
//! page reads and changes everything through the REST API, with the credentials its user
//! typed (the same authentication as any other REST client). `ui.enabled=false` leaves the
//! routes out (404).
//!
//! Not in `rest/`: these routes are not the REST API (not in its OpenAPI description, not
//! behind its authentication).

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The page runs its own files only and talks to this worker only; no other site may frame
/// it (its buttons change connectors). Inline style attributes colour the chart legends.
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// One file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file of the console; `index.html` is the page itself.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../ui/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../ui/app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../ui/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../ui/favicon.svg"),
    },
];

/// `api` (the REST API, secured) with the console's files beside it when `enabled`
/// (`ui.enabled`). The files are outside the authentication: they hold no data, and the
/// console's calls to `api` carry the user's credentials.
pub fn beside(api: Router, enabled: bool) -> Router {
    router(enabled).merge(api)
}

/// The console's routes, or none when it is off (`ui.enabled=false`).
pub fn router(enabled: bool) -> Router {
    if !enabled {
        return Router::new();
    }
    Router::new()
        .route("/ui", get(redirect))
        .route("/ui/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/ui/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }),
        )
}

/// The total size of the console's files in bytes, as a browser downloads them uncompressed.
pub fn total_size() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// `/ui` to `/ui/`, so that the page's relative links resolve under `/ui/`.
async fn redirect() -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(LOCATION, "/ui/")]).into_response()
}

/// The file `name`, or 304 when the browser's copy (`If-None-Match`) is current. The browser
/// revalidates every time (`no-cache`): a worker upgraded in place serves its own console at
/// once, and a current copy costs a 304 without a body.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return crate::rest::ApiError::not_found("HTTP 404 Not Found").into_response();
    };
    let etag = etag(asset.body);
    let cache = [
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
    ];
    let current = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if current {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        cache,
        asset.body,
    )
        .into_response()
}

/// A strong validator of `body`: FNV-1a over its bytes (stable across builds and platforms,
/// unlike `std`'s hasher), with the length.
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}-{:x}\"", body.len())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_files_are_served_with_their_content_types() {
        let router = router(true);
        let page = get(&router, "/ui/", &[]).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
        assert!(page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(page.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = body(page).await;
        assert!(html.contains("<title>"), "{html}");
        for (uri, content_type, needle) in [
            ("/ui/app.js", "text/javascript; charset=utf-8", "fetch("),
            ("/ui/style.css", "text/css; charset=utf-8", "{"),
            ("/ui/favicon.svg", "image/svg+xml", "<svg"),
            ("/ui/index.html", "text/html; charset=utf-8", "app.js"),
        ] {
            let response = get(&router, uri, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{uri}");
            assert!(body(response).await.contains(needle), "{uri}");
        }
        let redirect = get(&router, "/ui", &[]).await;
        assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(redirect.headers()[LOCATION], "/ui/");
        let missing = get(&router, "/ui/nothing.js", &[]).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(body(missing).await.contains("\"error_code\":404"));
    }

    #[tokio::test]
    async fn a_current_copy_gets_a_304() {
        let router = router(true);
        let first = get(&router, "/ui/app.js", &[]).await;
        let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let again = get(&router, "/ui/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
        let stale = get(&router, "/ui/app.js", &[("if-none-match", "\"other\"")]).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn ui_enabled_false_serves_nothing() {
        let router = router(false);
        for uri in ["/ui", "/ui/", "/ui/app.js"] {
            assert_eq!(
                get(&router, uri, &[]).await.status(),
                StatusCode::NOT_FOUND,
                "{uri}"
            );
        }
    }

    /// With REST authentication on, the console's files answer without credentials and the
    /// API still answers nothing without them; a script's 401 has no `WWW-Authenticate`
    /// (no browser dialog over the console).
    #[tokio::test]
    async fn the_files_are_open_and_the_api_stays_secured() {
        let dir = std::env::temp_dir().join(format!("ui-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("users");
        std::fs::write(&users, format!("ann:{}\n", bcrypt::hash("pw", 4).unwrap())).unwrap();
        let auth =
            crate::rest::auth::Authenticator::from_config(&connect_core::config::props(&[(
                "rest.auth.basic.file",
                users.to_str().unwrap(),
            )]))
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let api = Router::new().route("/connectors", axum::routing::get(|| async { "[]" }));
        let app = beside(crate::rest::secured(api, auth), true);

        assert_eq!(get(&app, "/ui/", &[]).await.status(), StatusCode::OK);
        assert_eq!(get(&app, "/ui/app.js", &[]).await.status(), StatusCode::OK);
        let anonymous = get(&app, "/connectors", &[]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert!(anonymous.headers().contains_key("www-authenticate"));
        let scripted = get(
            &app,
            "/connectors",
            &[("x-requested-with", "connect-console")],
        )
        .await;
        assert_eq!(scripted.status(), StatusCode::UNAUTHORIZED);
        assert!(!scripted.headers().contains_key("www-authenticate"));
        let wrong = get(
            &app,
            "/connectors",
            &[
                ("x-requested-with", "connect-console"),
                ("authorization", "Basic YW5uOm5v"),
            ],
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        // ann:pw
        let known = get(&app, "/connectors", &[("authorization", "Basic YW5uOnB3")]).await;
        assert_eq!(known.status(), StatusCode::OK);
        assert_eq!(body(known).await, "[]");
    }

    /// The whole console stays small: every file together under 200 KB, uncompressed.
    #[test]
    fn the_console_is_under_200_kb() {
        assert!(total_size() < 200_000, "{} bytes", total_size());
    }
}
