//! Voicemail messages: the call controller hands each finished message
//! ([`VoicemailMessage`]) to [`VoicemailSink::deliver`]; the writer task
//! lists it in the database, announces `voicemail.received`, and then
//! transcribes it when an offline speech-to-text engine is installed
//! (Debian's `pocketsphinx_continuous` with its US English model). Without
//! one the message is kept, marked `unavailable`.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::cdr::timestamp;
use crate::events::{EventHub, LiveEvent};
use crate::storage::Storage;

pub use switch::effect::VoicemailMessage;

/// Where the call controller leaves messages; cheap to clone.
#[derive(Debug, Clone)]
pub struct VoicemailSink {
    queue: mpsc::UnboundedSender<VoicemailMessage>,
}

impl VoicemailSink {
    /// Queues a message for listing.
    pub fn deliver(&self, message: VoicemailMessage) {
        if let Err(error) = self.queue.send(message) {
            warn!(file = %error.0.file, "voicemail writer stopped: message not listed");
        }
    }
}

/// The speech-to-text program, if one is installed.
#[derive(Debug, Clone)]
pub struct Transcriber {
    program: PathBuf,
}

impl Transcriber {
    /// `pocketsphinx_continuous` on `PATH`, with its model installed.
    pub fn detect() -> Option<Transcriber> {
        let path = std::env::var_os("PATH")?;
        let program = std::env::split_paths(&path)
            .map(|dir| dir.join("pocketsphinx_continuous"))
            .find(|candidate| candidate.is_file())?;
        let model = Path::new("/usr/share/pocketsphinx/model/en-us/en-us");
        if !model.is_dir() {
            info!(
                "pocketsphinx is installed without its en-us model: voicemail is not transcribed"
            );
            return None;
        }
        info!(program = %program.display(), "voicemail is transcribed");
        Some(Transcriber { program })
    }

    /// The words in the 8 kHz WAV at `path` (upsampled to the model's
    /// 16 kHz first).
    pub async fn transcribe(&self, path: &Path) -> anyhow::Result<String> {
        let wide = path.with_extension(format!("16k.{}.wav", rand::random::<u32>()));
        let (source, target) = (path.to_owned(), wide.clone());
        tokio::task::spawn_blocking(move || upsample(&source, &target)).await??;
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(300),
            tokio::process::Command::new(&self.program)
                .arg("-infile")
                .arg(&wide)
                .arg("-logfn")
                .arg("/dev/null")
                .kill_on_drop(true)
                .output(),
        )
        .await;
        let _ = tokio::fs::remove_file(&wide).await;
        let output = output.map_err(|_| anyhow::anyhow!("took over 5 minutes"))??;
        if !output.status.success() {
            anyhow::bail!(
                "exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// Writes `source` (16-bit mono) at twice its rate, by linear
/// interpolation.
fn upsample(source: &Path, target: &Path) -> anyhow::Result<()> {
    let mut reader = hound::WavReader::open(source)?;
    let spec = reader.spec();
    let samples: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>()?;
    let mut writer = hound::WavWriter::create(
        target,
        hound::WavSpec {
            channels: 1,
            sample_rate: spec.sample_rate * 2,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )?;
    for (index, &sample) in samples.iter().enumerate() {
        let next = samples.get(index + 1).copied().unwrap_or(sample);
        writer.write_sample(sample)?;
        writer.write_sample(((i32::from(sample) + i32::from(next)) / 2) as i16)?;
    }
    writer.finalize()?;
    Ok(())
}

/// Starts the writer: returns the sink and the writer's future, which
/// ends once every sink is dropped and the queue is written.
pub fn writer(
    storage: Storage,
    events: EventHub,
    transcriber: Option<Transcriber>,
) -> (VoicemailSink, impl std::future::Future<Output = ()>) {
    let (queue, mut messages) = mpsc::unbounded_channel::<VoicemailMessage>();
    let task = async move {
        while let Some(message) = messages.recv().await {
            let id = match list(&storage, &message, transcriber.is_some()).await {
                Ok(id) => id,
                Err(error) => {
                    warn!(error = %format!("{error:#}"), file = %message.file, "voicemail message not listed");
                    continue;
                }
            };
            events.publish(LiveEvent::VoicemailReceived {
                voicemail_id: id,
                at: timestamp(message.received_at),
                mailbox: message.mailbox.clone(),
                call_id: message.call_id.clone(),
                caller_id: message.caller_id.clone(),
                did: message.did.clone(),
                duration_seconds: message.duration.as_secs_f64(),
            });
            if let Some(transcriber) = &transcriber {
                transcribe(&storage, transcriber, id, &message.path).await;
            }
        }
        debug!("voicemail writer finished");
    };
    (VoicemailSink { queue }, task)
}

async fn list(
    storage: &Storage,
    message: &VoicemailMessage,
    transcribing: bool,
) -> anyhow::Result<i64> {
    let status = if transcribing {
        "pending"
    } else {
        "unavailable"
    };
    let id = storage.insert_voicemail(message, status).await?;
    info!(voicemail = id, mailbox = %message.mailbox, "voicemail message listed");
    Ok(id)
}

async fn transcribe(storage: &Storage, transcriber: &Transcriber, id: i64, path: &Path) {
    let (text, status) = match transcriber.transcribe(path).await {
        Ok(text) => (Some(text), "done"),
        Err(error) => {
            warn!(voicemail = id, error = %format!("{error:#}"), "voicemail not transcribed");
            (None, "failed")
        }
    };
    let stored = storage.set_transcription(id, text.as_deref(), status).await;
    if let Err(error) = stored {
        warn!(voicemail = id, %error, "transcription not stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_doubles_the_rate_and_interpolates() {
        let dir = std::env::temp_dir().join(format!("switchboard-vm-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("in.wav");
        let mut writer = hound::WavWriter::create(
            &source,
            hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )
        .unwrap();
        for sample in [0i16, 100, -100] {
            writer.write_sample(sample).unwrap();
        }
        writer.finalize().unwrap();
        let target = dir.join("out.wav");
        upsample(&source, &target).unwrap();
        let mut reader = hound::WavReader::open(&target).unwrap();
        assert_eq!(reader.spec().sample_rate, 16000);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples, [0, 50, 100, 0, -100, -100]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
