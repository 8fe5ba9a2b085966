//! `/api/v1/users/me/settings`: a user's preferences (theme, language, editor, rendering).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::ApiJson;
use crate::identity::access::Caller;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, patch_settings))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    #[default]
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Keymap {
    #[default]
    Default,
    Vim,
    Emacs,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    pub theme: Theme,
    /// BCP 47 language tag, e.g. `en` or `pt-BR`.
    pub language: String,
    pub editor: EditorSettings,
    pub render: RenderSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EditorSettings {
    pub font_size: u8,
    pub line_wrapping: bool,
    pub line_numbers: bool,
    pub keymap: Keymap,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RenderSettings {
    /// Render beside the editor while typing.
    pub live_preview: bool,
    pub sync_scroll: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            theme: Theme::System,
            language: "en".into(),
            editor: EditorSettings { font_size: 14, line_wrapping: true, line_numbers: false, keymap: Keymap::Default },
            render: RenderSettings { live_preview: true, sync_scroll: true },
        }
    }
}

/// Any subset of the settings; what is absent stays as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub theme: Option<Theme>,
    pub language: Option<String>,
    pub editor: Option<EditorPatch>,
    pub render: Option<RenderPatch>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditorPatch {
    pub font_size: Option<u8>,
    pub line_wrapping: Option<bool>,
    pub line_numbers: Option<bool>,
    pub keymap: Option<Keymap>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderPatch {
    pub live_preview: Option<bool>,
    pub sync_scroll: Option<bool>,
}

impl Settings {
    fn apply(&mut self, p: SettingsPatch) -> Result<(), ApiError> {
        let invalid = |m: &str| ApiError::new(ErrorCode::InvalidField, m);
        if let Some(t) = p.theme {
            self.theme = t;
        }
        if let Some(lang) = p.language {
            let ok = (2..=35).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(invalid("`language` must be a language tag such as `en` or `pt-BR`"));
            }
            self.language = lang;
        }
        if let Some(e) = p.editor {
            if let Some(size) = e.font_size {
                if !(8..=48).contains(&size) {
                    return Err(invalid("`editor.font_size` must be 8 to 48"));
                }
                self.editor.font_size = size;
            }
            self.editor.line_wrapping = e.line_wrapping.unwrap_or(self.editor.line_wrapping);
            self.editor.line_numbers = e.line_numbers.unwrap_or(self.editor.line_numbers);
            self.editor.keymap = e.keymap.unwrap_or(self.editor.keymap);
        }
        if let Some(r) = p.render {
            self.render.live_preview = r.live_preview.unwrap_or(self.render.live_preview);
            self.render.sync_scroll = r.sync_scroll.unwrap_or(self.render.sync_scroll);
        }
        Ok(())
    }
}

async fn load(app: &AppState, caller: &Caller) -> Result<Settings, ApiError> {
    let user = caller.user()?;
    Ok(match app.store.settings(user).await? {
        Some(json) => serde_json::from_str(&json).unwrap_or_default(),
        None => Settings::default(),
    })
}

/// The caller's settings (defaults until changed).
#[utoipa::path(get, path = "/api/v1/users/me/settings", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody)))]
async fn get_settings(State(app): State<AppState>, caller: Caller) -> Result<Json<Settings>, ApiError> {
    Ok(Json(load(&app, &caller).await?))
}

/// Changes some settings; answers all of them.
#[utoipa::path(patch, path = "/api/v1/users/me/settings", tag = "users", security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, body = Settings), (status = 422, body = ErrorBody)))]
async fn patch_settings(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    let mut settings = load(&app, &caller).await?;
    settings.apply(patch)?;
    let json = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    app.store.put_settings(caller.user()?, &json).await?;
    Ok(Json(settings))
}
