// LineEditor: ringdb-cli's input at a terminal, through libedit: emacs-style editing (or the
// user's ~/.editrc), cursor keys that move instead of landing in the line, history recalled
// with Up and kept in a file, and Tab completion of command and option names (editing.h).
// main.cc uses it only when standard input is a terminal; scripts and pipes keep the plain
// bounded reader of lines.h, and never read or write the history file.
//
// The history file (editing.h: history_path, history_keeps) holds at most kHistoryLinesMax
// lines. It is loaded when the editor opens and rewritten after every remembered line (so a
// cli that is killed loses nothing), through a temporary file renamed over it: mode 0600,
// never a half-written file. Two clis at once: the last to write wins (as with bash).
//
// Thread safety: one thread per object; one object per process (libedit sets the terminal's
// modes and signal handlers).
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "tools/cli/lines.h"

// libedit's EditLine and History (<histedit.h>, kept out of this header).
struct editline;
struct history;

namespace ringdb::cli {

class LineEditor {
 public:
  // An editor reading `in` and drawing on `out` (both a terminal), with the history file at
  // `history_file` (empty: none). Sets LC_CTYPE from the environment (C.UTF-8 instead of
  // the C locale), so that libedit reads the terminal's UTF-8 characters as characters.
  // nullptr if libedit cannot start.
  static std::unique_ptr<LineEditor> open(FILE* in, FILE* out, std::string history_file);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  void set_prompt(std::string prompt) { prompt_ = std::move(prompt); }
  // The next line without its newline: kLine, kTooLong (longer than kLineBytesMax), or kEnd
  // (end of input: Ctrl-D on an empty line).
  LineRead read(std::string* line);
  // Adds `line` to the history if history_keeps() it, and rewrites the history file. A file
  // that cannot be written is reported once on standard error; the cli goes on.
  void remember(const std::string& line);

 private:
  LineEditor() = default;
  static char* prompt_of(struct editline* el);
  static unsigned char complete(struct editline* el, int key);
  void save_history();

  struct editline* el_ = nullptr;
  struct history* history_ = nullptr;
  FILE* out_ = nullptr;
  std::string prompt_;
  std::string history_file_;
  bool history_failed_ = false;  // reported once
};

}  // namespace ringdb::cli
