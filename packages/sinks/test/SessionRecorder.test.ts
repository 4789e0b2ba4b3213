import { SampleMeeting, type Tape } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { dominantPerWindow } from "./helpers.js"
import {
  BOT,
  ffprobe,
  ffprobeAvailable,
  json,
  readTape,
  record,
  sample,
  SHARED_FIXTURE,
  SHARED_TRUTH,
  tempDir,
  wavOf,
  writeTape
} from "./recording.js"

type Turn = readonly [id: number, start: number, end: number]

const FREQUENCIES = [330, 550, 770]
const frequencyOf: Record<number, number> = { 100: 330, 200: 550, 300: 770 }

/** What each 100 ms window of a participant's track should hold: its tone while it speaks, silence otherwise. */
const expectedWindows = (turns: ReadonlyArray<Turn>, id: number, windows: number, silent: (t: number) => boolean) =>
  Array.from({ length: windows }, (_, w) => {
    const t = (w * 1600) / 16_000
    return !silent(t) && turns.some(([who, s, e]) => who === id && s <= t && t < e) ? frequencyOf[id]! : 0
  })

const finalsOf = (entries: ReadonlyArray<Tape.TapeEntry>) =>
  entries.map((e) => e.message as any).filter((m) => m.event === "transcript.data").map((m) => ({
    id: m.data.data.participant.id,
    text: m.data.data.words.map((w: any) => w.text).join(" "),
    start: m.data.data.words[0].start_timestamp.relative
  })).sort((a, b) => a.start - b.start)

const checkMeeting = async (tapeFile: string, turns: ReadonlyArray<Turn>) => {
  const entries = readTape(tapeFile)
  const out = tempDir()
  await record(tapeFile, out)
  const dir = path.join(out, BOT)

  // the transcript: 8 finals with the right speakers and text, in order
  const transcript = json(path.join(dir, "transcript.json"))
  const finals = finalsOf(entries)
  assert.strictEqual(transcript.utterances.length, 8)
  assert.deepStrictEqual(
    transcript.utterances.map((u: any) => ({ id: u.participantId, text: u.text, start: u.start })),
    finals
  )
  assert.deepStrictEqual(transcript.utterances.map((u: any) => u.participantId), turns.map(([id]) => id))
  const text = fs.readFileSync(path.join(dir, "transcript.txt"), "utf8").trim().split("\n")
  assert.strictEqual(text[0], "[00:02] Ada Lovelace: we shipped the parser")
  assert.strictEqual(text.length, 8)

  // talk time per participant within 0.1 s of the truth
  const participants = json(path.join(dir, "participants.json"))
  for (const id of [100, 200, 300]) {
    const truth = turns.filter(([who]) => who === id).reduce((sum, [, s, e]) => sum + e - s, 0)
    assert.approximately(participants[String(id)].talkTime, truth, 0.1, `talk time of ${id}`)
  }
  assert.deepStrictEqual(Object.keys(participants).sort(), ["100", "200", "300"])
  assert.strictEqual(json(path.join(dir, "chat.json")).length, 1)

  // mixed.wav: 30 s within one chunk; each participant's tone in its turns and silence elsewhere
  const mixed = wavOf(path.join(dir, "audio", "mixed.wav"))
  assert.approximately(mixed.samples.length / 16_000, 30, 0.1)
  assert.strictEqual(mixed.declared, mixed.samples.length * 2)
  for (const id of [100, 200, 300]) {
    const wav = wavOf(path.join(dir, "audio", `participant-${id}.wav`))
    assert.strictEqual(wav.declared, wav.samples.length * 2)
    const windows = dominantPerWindow(wav.samples, FREQUENCIES)
    assert.deepStrictEqual(windows, expectedWindows(turns, id, windows.length, () => false), `track of ${id}`)
    assert.isAbove(windows.filter((f) => f !== 0).length, 10)
  }

  // the frames, the tape and the counts
  const pngs = fs.readdirSync(path.join(dir, "video", "participant-100", "webcam"))
  const frames = entries.filter((e) => (e.message as any).event === "video_separate_png.data")
  assert.strictEqual(pngs.length, frames.length)
  assert.include(pngs, `${Math.round((frames[0]!.message as any).data.data.timestamp.relative * 1000)}.png`)
  assert.strictEqual(readTape(path.join(dir, "events.jsonl")).length, entries.length)
  const session = json(path.join(dir, "session.json"))
  assert.strictEqual(session.counts.messages, entries.length)
  assert.strictEqual(session.counts.byEvent["audio_mixed_raw.data"], 300)
  assert.strictEqual(session.botId, BOT)
  assert.strictEqual(session.endReason, "completed")
  assert.deepStrictEqual(session.errors, [])
  return dir
}

describe("SessionRecorder", () => {
  it("records the project's sample meeting as the truth says", async () => {
    const meeting = sample()
    const turns = meeting.turns.map((t): Turn => [t.participantId, t.start, t.end])
    assert.strictEqual(turns.length, 8)
    const tape = writeTape(tempDir(), meeting.entries)
    const dir = await checkMeeting(tape, turns)

    // the outputs open in a standard tool
    if (ffprobeAvailable()) {
      for (const name of ["mixed.wav", "participant-100.wav"]) {
        const probe = ffprobe(path.join(dir, "audio", name), "stream=codec_name,sample_rate,channels:format=duration")
        assert.deepStrictEqual(
          [probe.streams[0].codec_name, probe.streams[0].sample_rate, probe.streams[0].channels],
          ["pcm_s16le", "16000", 1]
        )
        const bytes = fs.statSync(path.join(dir, "audio", name)).size - 44
        assert.approximately(Number(probe.format.duration), bytes / 32_000, 0.001)
      }
      for (const [name, codec] of [["transcript.srt", "subrip"], ["transcript.vtt", "webvtt"]] as const) {
        const probe = ffprobe(path.join(dir, name), "stream=codec_name,nb_read_packets")
        assert.strictEqual(probe.streams[0].codec_name, codec)
        assert.strictEqual(Number(probe.streams[0].nb_read_packets), 8, `cues in ${name}`)
      }
    }
  })

  // a user's clone has no shared fixtures: there the generated meeting above covers the same ground
  it.runIf(fs.existsSync(SHARED_FIXTURE) && fs.existsSync(SHARED_TRUTH))(
    "records the shared fixture tape as its truth file says (when ../shared is there)",
    async () => {
      const truth = json(SHARED_TRUTH)
      await checkMeeting(SHARED_FIXTURE, truth.turns)
    }
  )

  it("keeps alignment over a 20 s disconnect, ignores duplicated chunks, sorts out-of-order finals", async () => {
    const meeting = SampleMeeting.generate({ seed: 3, duration: 50, separate: true, video: false })
    const turns = meeting.turns.map((t): Turn => [t.participantId, t.start, t.end])
    const lost = (t: number) => t >= 15 && t < 35
    const timeOf = (m: any): number | undefined =>
      m.data.data.timestamp?.relative ?? m.data.data.words?.[0]?.start_timestamp?.relative
    // Recall replays nothing after a reconnect: every message about 15 s to 35 s is gone
    const cut = meeting.entries.filter((e) => {
      const t = timeOf(e.message)
      return t === undefined || !lost(t)
    })
    // Recall sends some chunks twice, and a final late
    const messy: Array<Tape.TapeEntry> = []
    cut.forEach((entry, i) => {
      messy.push(entry)
      const event = (entry.message as any).event as string
      if (event.startsWith("audio_") && i % 5 === 0) messy.push({ at: entry.at + 0.01, message: entry.message })
    })
    const finalIndex = messy.findIndex((e) => (e.message as any).event === "transcript.data")
    const [late] = messy.splice(finalIndex, 1)
    messy.push({ ...late!, at: messy[messy.length - 1]!.at + 1 })

    const dir = tempDir()
    const out = path.join(dir, "out")
    await record(writeTape(dir, messy), out)
    const session = path.join(out, BOT)

    const mixed = wavOf(path.join(session, "audio", "mixed.wav"))
    assert.approximately(mixed.samples.length / 16_000, 50, 0.1)
    const mixedWindows = dominantPerWindow(mixed.samples, FREQUENCIES)
    mixedWindows.forEach((f, w) => {
      if (lost((w * 1600) / 16_000)) assert.strictEqual(f, 0, `window ${w} of mixed.wav is silent`)
    })
    for (const id of [100, 200, 300]) {
      const wav = wavOf(path.join(session, "audio", `participant-${id}.wav`))
      const windows = dominantPerWindow(wav.samples, FREQUENCIES)
      assert.deepStrictEqual(windows, expectedWindows(turns, id, windows.length, lost), `track of ${id}`)
      // every chunk sent after the gap lands at its own time: the track ends where its last turn does
      const lastTurn = turns.filter(([who, s]) => who === id && !lost(s)).at(-1)!
      assert.approximately(wav.samples.length / 16_000, Math.ceil(lastTurn[2] * 10) / 10, 0.1)
    }
    const summary = json(path.join(session, "session.json"))
    assert.isAbove(summary.audio.mixed.repeatedSamples, 0)

    const utterances = json(path.join(session, "transcript.json")).utterances
    const starts = utterances.map((u: any) => u.start)
    assert.deepStrictEqual(starts, [...starts].sort((a: number, b: number) => a - b))
    assert.strictEqual(utterances.length, cut.filter((e) => (e.message as any).event === "transcript.data").length)

    // the same tape without the repeats gives the same bytes
    const clean = path.join(dir, "clean")
    await record(writeTape(dir, cut, "clean.jsonl"), clean)
    for (const name of ["mixed.wav", "participant-100.wav", "participant-200.wav", "participant-300.wav"]) {
      assert.isTrue(
        fs.readFileSync(path.join(session, "audio", name)).equals(
          fs.readFileSync(path.join(clean, BOT, "audio", name))
        ),
        `${name} unchanged by duplicated chunks`
      )
    }
  })

  it("continues a folder after a restart: same result as one recording", async () => {
    const meeting = sample()
    const dir = tempDir()
    const half = Math.floor(meeting.entries.length / 2)
    const once = path.join(dir, "once")
    const twice = path.join(dir, "twice")
    await record(writeTape(dir, meeting.entries, "all.jsonl"), once)
    await record(writeTape(dir, meeting.entries.slice(0, half), "first.jsonl"), twice)
    await record(writeTape(dir, meeting.entries.slice(half), "second.jsonl"), twice)
    const a = path.join(once, BOT)
    const b = path.join(twice, BOT)
    for (const name of ["mixed.wav", "participant-100.wav", "participant-200.wav", "participant-300.wav"]) {
      assert.isTrue(
        fs.readFileSync(path.join(a, "audio", name)).equals(fs.readFileSync(path.join(b, "audio", name))),
        `${name} continued at the right offset`
      )
    }
    for (const name of ["transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt", "chat.json"]) {
      assert.strictEqual(fs.readFileSync(path.join(b, name), "utf8"), fs.readFileSync(path.join(a, name), "utf8"), name)
    }
    assert.deepStrictEqual(json(path.join(b, "participants.json")), json(path.join(a, "participants.json")))
    const tapeA = readTape(path.join(a, "events.jsonl"))
    const tapeB = readTape(path.join(b, "events.jsonl"))
    assert.deepStrictEqual(tapeB.map((e) => e.message), tapeA.map((e) => e.message))
    const ats = tapeB.map((e) => e.at)
    assert.deepStrictEqual(ats, [...ats].sort((x, y) => x - y), "the appended tape never goes back in time")
    const sessionA = json(path.join(a, "session.json"))
    const sessionB = json(path.join(b, "session.json"))
    assert.deepStrictEqual(sessionB.counts, sessionA.counts)
    // the media counts carry on across the restart too
    assert.deepStrictEqual(sessionB.video, sessionA.video)
    assert.deepStrictEqual(sessionB.audio, sessionA.audio)
    assert.strictEqual(sessionB.runs.length, 2)
    assert.strictEqual(
      fs.readdirSync(path.join(b, "video", "participant-100", "webcam")).length,
      fs.readdirSync(path.join(a, "video", "participant-100", "webcam")).length
    )
  })
})
