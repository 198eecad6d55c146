// fuzz_stream_upload: StreamUploadSession over an in-memory UploadTarget.
//
// Input layout (tests/fuzz/make-corpus writes examples):
//   byte 0   flags: bit 0 opening the target fails (ENOSPC); bit 1 commit
//            fails; bit 2 max_bytes = byte 1 (0 stays unlimited); bit 4 the
//            connection ends by on_close() alone (reset) instead of FIN +
//            on_close(); bit 5 the target is asynchronous: its operations
//            stay pending until the input completes them; bit 6 (async) the
//            pending operations complete after the FIN, before on_close()
//   byte 1   max_bytes (when bit 2)
//   byte 2   the n-th append fails (0: none)
//   then chunks: a length byte L and L bytes, each one read; L == 0 is the
//   peer's FIN and ends the input. Async: L == 0xFF completes the oldest
//   pending target operation instead; a read waits (completing operations)
//   while the session accepts no input, as the connection does.
//
// Checked against a model that only knows the concatenated input: the bytes
// appended are exactly the bytes after the header line, in order, never more
// than declared; at most one reply, one line, "OK <n> sha256=<digest of the
// stored bytes>" exactly when the declared bytes arrived and commit worked,
// else "ERROR ..."; nothing is sent after close(); the target is opened only
// for a valid header within max_bytes, with the declared size; exactly one
// report per opened target, with the byte count; commit and abandon at most
// once, nothing reaches the target after either, nothing is appended while
// it is full; a session that takes no input always has an operation pending.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"
#include "service/sha256.hpp"
#include "service/stream_upload.hpp"
#include "upload_fakes.hpp"

namespace socketd::fuzz {
namespace {

// The declared size if `line` (without its "\n" or "\r\n") is a valid header.
std::optional<uint64_t> parse_header(std::string_view line) {
  constexpr std::string_view kVerb = "UPLOAD ";
  if (!line.starts_with(kVerb) || line.size() == kVerb.size()) return std::nullopt;
  uint64_t value = 0;
  for (const char c : line.substr(kVerb.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  FuzzInput in(data, size);
  const uint8_t flags = in.byte();
  const uint8_t max_byte = in.byte();
  const uint8_t fail_append = in.byte();
  const bool open_fails = flags & 1;
  const bool reset = flags & 16;
  const bool async = flags & 32;
  const bool drain_before_close = flags & 64;

  UploadOptions options;
  if (flags & 4) options.max_bytes = max_byte;
  MemoryUploadLog storage;
  configure_target(storage, flags, fail_append,
                   std::make_error_code(std::errc::no_space_on_device));

  RecordingReply reply;
  std::string input;  // every byte the peer sent while the session listened
  bool eof = false;
  {
    StreamUploadSession session(options, test::memory_stream_opener(storage),
                                test::record_results(storage));
    reply.wake_session = &session;
    while (!in.empty()) {
      const uint8_t length = in.byte();
      if (async && length == kComplete) {
        storage.complete_next();
        continue;
      }
      const std::string_view chunk = in.take(length);
      if (chunk.empty()) {
        eof = true;
        break;
      }
      if (!reply.closed()) wait_for_input(session, storage);
      if (!reply.closed()) input += chunk;
      session.on_data(as_span(chunk), reply);
      fuzz_check(reply.sends.size() <= 1, "more than one reply");
      fuzz_check(reply.sends.empty() == !reply.closed(), "a reply without close or the reverse");
    }
    if (eof && !reset) session.on_eof(reply);
    if (drain_before_close) storage.complete_all();
    session.on_close();
    session.on_close();
    fuzz_check(storage.pending() == 0 || storage.target == nullptr,
               "operations still pending after on_close()");
    fuzz_check(!reply.sent_after_close, "sent after close()");
  }
  const std::vector<uint64_t>& opened_for = storage.opened_for;
  const auto& reports = storage.results;

  // The model: the header line, then the data.
  const size_t newline = input.find('\n');
  const bool header_complete =
      newline != std::string::npos && newline + 1 <= StreamUploadSession::kMaxHeader;
  std::optional<uint64_t> declared;
  if (header_complete) {
    std::string_view line(input.data(), newline);
    if (line.ends_with('\r')) line.remove_suffix(1);
    declared = parse_header(line);
  }
  const bool within_max = declared && (options.max_bytes == 0 || *declared <= options.max_bytes);
  fuzz_check(reply.sends.size() <= 1, "more than one reply");
  const std::string answer = reply.sends.empty() ? std::string() : reply.sends.front();
  fuzz_check(answer.empty() || (answer.ends_with('\n') && answer.find('\n') == answer.size() - 1),
             "reply is not one line: \"" + printable(answer) + "\"");

  if (!within_max) {
    fuzz_check(opened_for.empty(), "opened a target for a bad or oversized header");
    const bool said_something =
        !input.empty() && (header_complete || input.size() > 32 || (eof && !reset));
    if (said_something) {
      fuzz_check(answer.starts_with("ERROR "), "bad header answered \"" + printable(answer) + "\"");
    }
    return 0;
  }
  fuzz_check(opened_for.size() == 1 && opened_for[0] == *declared,
             "target not opened once with the declared size");
  const bool refused_open = answer.starts_with("ERROR not enough free disk space");
  if (open_fails) {
    fuzz_check(storage.data.empty() && !storage.committed, "stored bytes without a file");
    if (refused_open || !async) {
      fuzz_check(refused_open, printable(answer));
      fuzz_check(reports.empty() && storage.abandons == 0, "report or abandon without a file");
    } else {
      // Async, the connection ended before the open was known to have failed.
      fuzz_check(reports.size() == 1 && reports[0].state == UploadResult::State::kIncomplete &&
                     storage.abandons == 1,
                 "upload cut short while opening: not reported incomplete once");
      fuzz_check(answer.empty() || answer.starts_with("ERROR "), printable(answer));
    }
    return 0;
  }
  const std::string_view body = std::string_view(input).substr(newline + 1);
  fuzz_check(body.starts_with(storage.data), "stored bytes are not the bytes after the header");
  fuzz_check(storage.data.size() <= *declared, "stored more than declared");
  fuzz_check(reports.size() == 1, std::to_string(reports.size()) + " reports");
  const UploadResult& r = reports.front();
  fuzz_check(r.bytes == storage.taken_bytes, "report byte count");
  if (!async) fuzz_check(r.bytes == storage.data.size(), "report byte count: stored");
  if (storage.committed) {
    Sha256 hash;
    hash.update(as_span(storage.data));
    fuzz_check(storage.data.size() == *declared, "committed a short upload");
    fuzz_check(answer == "OK " + std::to_string(*declared) + " sha256=" + hash.hex_digest() + "\n",
               "finished upload answered \"" + printable(answer) + "\"");
    fuzz_check(r.state == UploadResult::State::kFinished && r.file == "upload-1" &&
                   storage.abandons == 0,
               "finished upload reported wrongly");
  } else {
    fuzz_check(storage.abandons == 1, "unfinished upload not abandoned exactly once");
    fuzz_check(r.state == UploadResult::State::kIncomplete && !r.reason.empty() &&
                   r.file == "upload-1.incomplete",
               "unfinished upload reported wrongly");
    fuzz_check(answer.empty() || answer.starts_with("ERROR "),
               "unfinished upload answered \"" + printable(answer) + "\"");
    // Async, extra bytes that arrive while the commit is pending are ignored.
    if (body.size() > *declared && !async) {
      fuzz_check(answer.starts_with("ERROR "), "extra bytes not refused");
    }
  }
  return 0;
}
