//! Text to speech for `say`: rendered by an installed program (`espeak-ng`,
//! else `flite`; both are separate programs, never linked), decoded once to
//! 8 kHz prompts and cached twice: in memory, and as WAV files under the
//! data directory (named by a hash of the voice and text), so a restart
//! renders nothing again.
//!
//! The call controller asks [`Tts::cached`] first (no I/O: a hit plays at
//! once) and otherwise [`Tts::render`], which renders on the runtime and
//! calls back when the prompt is ready.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use media::player::Prompt;
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

/// Rendered prompts kept in memory at most (each a few seconds of 8 kHz
/// audio: about 100 KB for 6 s); past that the memory cache starts over
/// (the files stay).
const MEMORY_ENTRIES: usize = 2_000;

/// Texts longer than this are refused (the flow language allows 2,000
/// characters).
const LONGEST_TEXT: usize = 4_000;

/// A TTS program.
#[derive(Debug, Clone)]
enum Program {
    EspeakNg(PathBuf),
    Flite(PathBuf),
}

/// The server's text to speech (cheap to clone: shared).
#[derive(Clone)]
pub struct Tts {
    inner: Arc<Inner>,
}

struct Inner {
    program: Option<Program>,
    dir: PathBuf,
    memory: Mutex<HashMap<String, Prompt>>,
    /// Renders in progress, by key: one text is rendered once however
    /// many calls ask at the same time, and they all await that render.
    rendering: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Rendered>>>>,
}

impl std::fmt::Debug for Tts {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Tts")
            .field("program", &self.inner.program)
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl Tts {
    /// TTS through the first of `espeak-ng` and `flite` found on `PATH`,
    /// caching under `dir`; none found: [`Tts::is_available`] is false.
    pub fn detect(dir: PathBuf) -> Tts {
        let program = find_program("espeak-ng")
            .map(Program::EspeakNg)
            .or_else(|| find_program("flite").map(Program::Flite));
        match &program {
            Some(program) => info!(?program, "text to speech available"),
            None => info!("no text-to-speech program (espeak-ng or flite): flows cannot `say`"),
        }
        Tts::with(program, dir)
    }

    /// TTS as the `tts` setting says: `auto` ([`Tts::detect`]), `none`,
    /// or a program's path (a name with `flite` in it is run as flite,
    /// anything else as espeak-ng).
    pub fn from_setting(setting: &str, dir: PathBuf) -> anyhow::Result<Tts> {
        match setting {
            "auto" => Ok(Tts::detect(dir)),
            "none" => {
                info!("text to speech is off (tts = \"none\"): flows cannot `say`");
                Ok(Tts::none(dir))
            }
            path => {
                let program = PathBuf::from(path);
                if !program.is_file() {
                    anyhow::bail!("tts: no program at {path}");
                }
                let flite = program
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().contains("flite"));
                let program = if flite {
                    Program::Flite(program)
                } else {
                    Program::EspeakNg(program)
                };
                info!(?program, "text to speech available");
                Ok(Tts::with(Some(program), dir))
            }
        }
    }

    /// TTS without a program: nothing can be said.
    pub fn none(dir: PathBuf) -> Tts {
        Tts::with(None, dir)
    }

    fn with(program: Option<Program>, dir: PathBuf) -> Tts {
        Tts {
            inner: Arc::new(Inner {
                program,
                dir,
                memory: Mutex::new(HashMap::new()),
                rendering: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Whether there is a program to speak with.
    pub fn is_available(&self) -> bool {
        self.inner.program.is_some()
    }

    /// `text` in `voice`, if it is in the memory cache.
    pub fn cached(&self, text: &str, voice: Option<&str>) -> Option<Prompt> {
        let key = key(text, voice);
        self.inner
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    /// Renders `text` in `voice` (from the file cache, else the program)
    /// on the runtime, then calls `done` with the prompt or why not.
    #[allow(clippy::disallowed_methods)] // the renderer is a driver: it spawns
    pub fn render(
        &self,
        text: &str,
        voice: Option<&str>,
        done: impl FnOnce(Result<Prompt, String>) + Send + 'static,
    ) {
        let tts = self.clone();
        let (text, voice) = (text.to_string(), voice.map(str::to_string));
        tokio::spawn(async move {
            let rendered = tts.render_now(&text, voice.as_deref()).await;
            done(rendered);
        });
    }

    /// Renders `text` without waiting for anyone (a whisper, rendered while
    /// its dial rings so that it is ready when the phone answers).
    pub fn warm(&self, text: &str, voice: Option<&str>) {
        if self.cached(text, voice).is_none() {
            self.render(text, voice, |_| {});
        }
    }

    async fn render_now(&self, text: &str, voice: Option<&str>) -> Result<Prompt, String> {
        let Some(program) = self.inner.program.clone() else {
            return Err("no text-to-speech program".into());
        };
        if text.len() > LONGEST_TEXT {
            return Err(format!("longer than {LONGEST_TEXT} bytes"));
        }
        if let Some(voice) = voice
            && !voice
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_+".contains(&byte))
        {
            return Err(format!("no voice {voice:?}"));
        }
        let key = key(text, voice);
        if let Some(prompt) = self.cached(text, voice) {
            return Ok(prompt);
        }
        let path = self.inner.dir.join(format!("{key}.wav"));
        // One render per text: whoever asks while it runs awaits it.
        let once = self
            .inner
            .rendering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let rendered = once
            .get_or_init(|| async {
                match load(&path).await {
                    Some(prompt) => Ok(prompt),
                    None => run(&program, text, voice, &path).await,
                }
            })
            .await
            .clone();
        if let Ok(prompt) = &rendered {
            let mut memory = self
                .inner
                .memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if memory.len() >= MEMORY_ENTRIES {
                memory.clear();
            }
            memory.insert(key.clone(), prompt.clone());
        }
        self.inner
            .rendering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        rendered
    }
}

/// A render's outcome: the prompt, or why there is none.
type Rendered = Result<Prompt, String>;

/// The cache key (and file name) of `text` in `voice`.
fn key(text: &str, voice: Option<&str>) -> String {
    let mut hash = Sha256::new();
    hash.update(voice.unwrap_or("").as_bytes());
    hash.update([0]);
    hash.update(text.as_bytes());
    hex::encode(&hash.finalize()[..16])
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A cached render, if there is a readable one.
async fn load(path: &Path) -> Option<Prompt> {
    let bytes = tokio::fs::read(path).await.ok()?;
    Prompt::decode(&bytes, Some("wav")).ok()
}

/// Runs the program into a temporary file, decodes it, and keeps the file.
async fn run(
    program: &Program,
    text: &str,
    voice: Option<&str>,
    path: &Path,
) -> Result<Prompt, String> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|error| format!("creating {}: {error}", dir.display()))?;
    }
    let temporary = path.with_extension(format!("tmp.{}", rand::random::<u32>()));
    let mut command = match program {
        Program::EspeakNg(binary) => {
            let mut command = tokio::process::Command::new(binary);
            if let Some(voice) = voice {
                command.arg("-v").arg(voice);
            }
            command.arg("-w").arg(&temporary).arg("--stdin");
            command
        }
        Program::Flite(binary) => {
            let mut command = tokio::process::Command::new(binary);
            if let Some(voice) = voice {
                command.arg("-voice").arg(voice);
            }
            // flite reads the text from a file: `-f /dev/stdin`.
            command
                .arg("-f")
                .arg("/dev/stdin")
                .arg("-o")
                .arg(&temporary);
            command
        }
    };
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| format!("starting {program:?}: {error}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|error| format!("writing to {program:?}: {error}"))?;
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .map_err(|_| "the TTS program took over 30 s".to_string())?
        .map_err(|error| format!("running {program:?}: {error}"))?;
    if !output.status.success() {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(format!(
            "{program:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let bytes = tokio::fs::read(&temporary)
        .await
        .map_err(|error| format!("reading the render: {error}"))?;
    let prompt = Prompt::decode(&bytes, Some("wav")).map_err(|error| {
        warn!(%error, "the TTS program's output does not decode");
        format!("undecodable render: {error}")
    });
    match &prompt {
        Ok(_) => {
            if let Err(error) = tokio::fs::rename(&temporary, path).await {
                warn!(%error, "TTS render not cached");
            }
            debug!(file = %path.display(), "TTS rendered");
        }
        Err(_) => {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_texts_and_voices_apart() {
        assert_eq!(key("Hello", None), key("Hello", None));
        assert_ne!(key("Hello", None), key("Hello", Some("en")));
        assert_ne!(key("Hello", None), key("hello", None));
        // The separator: voice "a" + text "b" is not voice "" + text "ab".
        assert_ne!(key("b", Some("a")), key("ab", None));
        assert_eq!(key("x", None).len(), 32);
    }

    #[tokio::test]
    async fn without_a_program_nothing_is_said() {
        let tts = Tts::none(std::env::temp_dir());
        assert!(!tts.is_available());
        assert!(tts.render_now("Hello", None).await.is_err());
    }

    #[tokio::test]
    async fn espeak_renders_once_and_caches() {
        let Some(binary) = find_program("espeak-ng") else {
            eprintln!("espeak-ng is not installed: skipped");
            return;
        };
        let dir = std::env::temp_dir().join(format!("switchboard-tts-{}", rand::random::<u32>()));
        let tts = Tts::with(Some(Program::EspeakNg(binary)), dir.clone());
        let prompt = tts.render_now("One two three.", None).await.unwrap();
        // About a second of speech at 8 kHz, and not silent.
        assert!(prompt.duration() > std::time::Duration::from_millis(500));
        assert!(prompt.samples().iter().any(|sample| sample.abs() > 1000));
        assert!(tts.cached("One two three.", None).is_some());
        assert!(
            dir.join(format!("{}.wav", key("One two three.", None)))
                .is_file()
        );
        // A fresh cache reads the file back, without the program.
        let again = Tts::with(Some(Program::EspeakNg("/nonexistent".into())), dir.clone());
        let reread = again.render_now("One two three.", None).await.unwrap();
        assert_eq!(reread.samples(), prompt.samples());
        // Two askers at once share one render.
        let (first, second) = tokio::join!(
            tts.render_now("Four five.", None),
            tts.render_now("Four five.", None)
        );
        assert_eq!(first.unwrap().samples(), second.unwrap().samples());
        assert!(tts.inner.rendering.lock().unwrap().is_empty());
        assert!(
            tts.render_now("x", Some("no voice; rm"))
                .await
                .unwrap_err()
                .contains("no voice")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
