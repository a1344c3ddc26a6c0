//! Listing a repository's tags page by page: for an OCIRepository's semver
//! pick and for an ImageRepository's scan.

use oci_client::Reference;

use crate::oci::{OciError, Repository, classify};

/// How many tags to read, and how many to ask for per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TagLimits {
    /// The most tags read; more is [`OciError::TooManyTags`].
    pub max: usize,
    /// Tags asked for per request (the registry may send fewer, or all).
    pub page: usize,
}

/// All tags of the repository, page by page (`n` and `last`), up to
/// `limits.max`. Stops at an empty page, or when a registry that
/// ignores `last` sends the same page again. (The client does not expose
/// the `Link` header; asking until a page is empty costs one request more
/// and works whatever page size the registry chooses.)
pub(crate) async fn list(
    client: &oci_client::Client,
    repo: &Repository,
    auth: &oci_client::secrets::RegistryAuth,
    url: &str,
    limits: TagLimits,
) -> Result<Vec<String>, OciError> {
    let max = limits.max;
    let image = Reference::with_tag(
        repo.registry.clone(),
        repo.repository.clone(),
        "latest".to_owned(),
    );
    let mut tags: Vec<String> = Vec::new();
    loop {
        let page = client
            .list_tags(
                &image,
                auth,
                Some(limits.page),
                tags.last().map(String::as_str),
            )
            .await
            .map_err(|e| match classify(e, url, &image, "listing tags") {
                // The listing names no tag: what is missing is the repository.
                OciError::NotFound { url, source, .. } => {
                    OciError::RepositoryNotFound { url, source }
                }
                other => other,
            })?;
        if page.tags.is_empty() || page.tags.last() == tags.last() {
            return Ok(tags);
        }
        tags.extend(page.tags);
        if tags.len() > max {
            return Err(OciError::TooManyTags {
                url: url.to_owned(),
                limit: max,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A registry that pages `tags` by `n` and `last` as the spec says
    /// (distribution 2.8, used by the integration tests, sends every tag
    /// at once); returns its address and the request targets it saw.
    async fn paging_registry(
        tags: &'static [&'static str],
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let Ok(n) = conn.read(&mut buf).await else {
                    continue;
                };
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let target = request.split(' ').nth(1).unwrap_or("").to_owned();
                log.lock().expect("log").push(target.clone());
                let query = target.split_once('?').map_or("", |(_, q)| q);
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                        .map(str::to_owned)
                };
                let n: usize = param("n")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX);
                let start = param("last")
                    .and_then(|last| tags.iter().position(|t| *t == last))
                    .map_or(0, |i| i + 1);
                let page: Vec<&str> = tags.iter().skip(start).take(n).copied().collect();
                let body = serde_json::json!({ "name": "r", "tags": page }).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn pages_until_an_empty_page_and_stops_at_the_limit() {
        const TAGS: &[&str] = &["a", "b", "c", "d", "e"];
        let (addr, seen) = paging_registry(TAGS).await;
        let url = format!("oci://{addr}/r");
        let repo = Repository::parse(&url).expect("url");
        let client = crate::oci::client(&url, true, None, std::time::Duration::from_secs(10))
            .expect("client");
        let auth = oci_client::secrets::RegistryAuth::Anonymous;
        let limits = TagLimits { max: 100, page: 2 };
        let tags = list(&client, &repo, &auth, &url, limits)
            .await
            .expect("list");
        assert_eq!(tags, TAGS);
        let listings: Vec<String> = seen
            .lock()
            .expect("log")
            .iter()
            .filter(|t| t.contains("/tags/list"))
            .cloned()
            .collect();
        assert_eq!(
            listings,
            [
                "/v2/r/tags/list?n=2",
                "/v2/r/tags/list?n=2&last=b",
                "/v2/r/tags/list?n=2&last=d",
                "/v2/r/tags/list?n=2&last=e",
            ]
        );

        let few = TagLimits { max: 3, ..limits };
        let err = list(&client, &repo, &auth, &url, few)
            .await
            .expect_err("over the limit");
        assert!(
            matches!(err, OciError::TooManyTags { limit: 3, .. }),
            "{err}"
        );
    }
}
