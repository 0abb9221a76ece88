//! Decoding what a client posts: a JSON object or an HTML form, with a username and a
//! password that are strings.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use serde_json::Value;

/// How a request was sent, and so how it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json`: answered with JSON and `302` redirects.
    Json,
    /// `application/x-www-form-urlencoded`: answered with pages and `303` redirects.
    Form,
}

/// The body's content type is neither JSON nor a form.
#[derive(Debug)]
pub(crate) struct Unsupported;

/// The body does not parse as its content type says.
#[derive(Debug)]
pub(crate) struct Malformed;

impl Format {
    /// The format a content type names.
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, Unsupported> {
        let essence = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") => Ok(Self::Json),
            Some("application/x-www-form-urlencoded") => Ok(Self::Form),
            _ => Err(Unsupported),
        }
    }

    /// Like [`of`](Self::of), but anything that is not a form is answered as JSON: for
    /// sign-out, whose body is empty and often sent without a content type.
    pub(crate) fn of_bodyless(headers: &HeaderMap) -> Self {
        Self::of(headers).unwrap_or(Self::Json)
    }
}

/// The two fields, each `None` when missing or not a string.
#[derive(Default)]
pub(crate) struct Credentials {
    /// The `username` field.
    pub username: Option<String>,
    /// The `password` field.
    pub password: Option<String>,
}

impl Credentials {
    /// Reads the fields from a body in `format`.
    pub(crate) fn decode(format: Format, body: &[u8]) -> Result<Self, Malformed> {
        match format {
            Format::Json => Self::from_json(body),
            Format::Form => Ok(Self::from_form(body)),
        }
    }

    fn from_json(body: &[u8]) -> Result<Self, Malformed> {
        let Value::Object(mut object) = serde_json::from_slice(body).map_err(|_| Malformed)? else {
            return Err(Malformed);
        };
        let mut string = |name: &str| match object.remove(name) {
            Some(Value::String(value)) => Some(value),
            _ => None,
        };
        Ok(Self {
            username: string("username"),
            password: string("password"),
        })
    }

    fn from_form(body: &[u8]) -> Self {
        let mut credentials = Self::default();
        // The first occurrence of a field counts, as with JSON's single key.
        for (name, value) in form_urlencoded::parse(body) {
            let slot = match name.as_ref() {
                "username" => &mut credentials.username,
                "password" => &mut credentials.password,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        credentials
    }
}

/// The string fields of a body, for forms with other fields than a username and password.
/// A field that is missing or not a string reads as `None`; the first occurrence counts.
#[derive(Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// Reads every string field from a body in `format`. An empty body has no fields.
    pub(crate) fn decode(format: Format, body: &[u8]) -> Result<Self, Malformed> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let pairs = match format {
            Format::Json => {
                let Value::Object(object) = serde_json::from_slice(body).map_err(|_| Malformed)?
                else {
                    return Err(Malformed);
                };
                object
                    .into_iter()
                    .filter_map(|(name, value)| match value {
                        Value::String(value) => Some((name, value)),
                        _ => None,
                    })
                    .collect()
            }
            Format::Form => form_urlencoded::parse(body).into_owned().collect(),
        };
        Ok(Self(pairs))
    }

    /// The field `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Fields may be passwords: names only.
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn content_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).expect("ascii"));
        headers
    }

    #[test]
    fn content_types_are_matched_on_their_essence() {
        assert_eq!(
            Format::of(&content_type("application/json; charset=utf-8")).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            Format::of(&content_type("Application/JSON")).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            Format::of(&content_type("application/x-www-form-urlencoded")).ok(),
            Some(Format::Form)
        );
        assert!(Format::of(&content_type("text/plain")).is_err());
        assert!(Format::of(&content_type("multipart/form-data; boundary=x")).is_err());
        assert!(Format::of(&HeaderMap::new()).is_err());
    }

    #[test]
    fn json_fields_that_are_not_strings_count_as_missing() {
        let decoded = Credentials::decode(Format::Json, br#"{"username": 7, "password": ["x"]}"#)
            .expect("object");
        assert_eq!(decoded.username, None);
        assert_eq!(decoded.password, None);
    }

    #[test]
    fn a_json_body_that_is_not_an_object_is_malformed() {
        for body in [&b"[1]"[..], b"\"x\"", b"{", b"", b"null"] {
            assert!(Credentials::decode(Format::Json, body).is_err());
        }
    }

    #[test]
    fn form_fields_are_percent_decoded_and_the_first_wins() {
        let decoded = Credentials::decode(
            Format::Form,
            b"username=%C3%9Cn%20i&username=second&password=a%2Bb+c",
        )
        .expect("form");
        assert_eq!(decoded.username.as_deref(), Some("Ün i"));
        assert_eq!(decoded.password.as_deref(), Some("a+b c"));
    }

    #[test]
    fn the_debug_output_hides_the_password() {
        let decoded =
            Credentials::decode(Format::Json, br#"{"username":"u","password":"hunter22"}"#)
                .expect("ok");
        assert!(!format!("{decoded:?}").contains("hunter22"));
    }
}
