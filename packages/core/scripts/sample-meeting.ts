/**
 * Writes a synthetic meeting tape to stdout, and its turns and message count to stderr.
 *
 *   npx tsx packages/core/scripts/sample-meeting.ts --seed 1 --duration 30 --separate --video > meeting.jsonl
 *
 * Options (all optional): --seed N, --duration SECONDS, --chunk-ms N, --bot ID, --recording ID, --start ISO,
 * --separate, --video. The same options as meetgen.py, with the same results.
 */
import * as SampleMeeting from "../src/SampleMeeting.js"

const usage = "usage: sample-meeting.ts [--seed N] [--duration S] [--chunk-ms N] [--bot ID] [--recording ID] " +
  "[--start ISO] [--separate] [--video]"

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const parseArgs = (args: ReadonlyArray<string>): SampleMeeting.Options => {
  const options: { -readonly [K in keyof SampleMeeting.Options]: SampleMeeting.Options[K] } = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg]
    const value = (): string => inline ?? args[++i] ?? fail(`${flag} needs a value`)
    const number = (): number => {
      const text = value()
      const n = Number(text)
      return text.trim() !== "" && Number.isFinite(n) ? n : fail(`${flag} expects a number, got ${text}`)
    }
    switch (flag) {
      case "--seed":
        options.seed = number()
        break
      case "--duration":
        options.duration = number()
        break
      case "--chunk-ms":
        options.chunkMs = number()
        break
      case "--bot":
        options.botId = value()
        break
      case "--recording":
        options.recordingId = value()
        break
      case "--start":
        options.start = value()
        break
      case "--separate":
        options.separate = true
        break
      case "--video":
        options.video = true
        break
      case "-h":
      case "--help":
        process.stdout.write(`${usage}\n`)
        process.exit(0)
        break
      default:
        fail(`unknown argument: ${arg}`)
    }
  }
  return options
}

const generate = (options: SampleMeeting.Options): SampleMeeting.SampleMeeting => {
  try {
    return SampleMeeting.generate(options)
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
}

const meeting = generate(parseArgs(process.argv.slice(2)))
const summary = {
  turns: meeting.turns.map((turn) => [turn.participantId, turn.start, turn.end]),
  messages: meeting.entries.length
}
process.stdout.write(SampleMeeting.toJsonl(meeting))
process.stderr.write(`${JSON.stringify(summary)}\n`)
