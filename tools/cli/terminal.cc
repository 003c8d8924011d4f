// LineEditor: libedit at ringdb-cli's prompt (see terminal.h).
#include "tools/cli/terminal.h"

#include <fcntl.h>
#include <histedit.h>
#include <langinfo.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstring>
#include <string_view>
#include <vector>

#include "tools/cli/editing.h"

namespace ringdb::cli {

namespace {

// Makes the missing folders on the way to `file`, mode 0700 (the XDG rule for its folders;
// the history may hold values).
void make_parents(const std::string& file) {
  for (size_t at = file.find('/', 1); at != std::string::npos; at = file.find('/', at + 1)) {
    mkdir(file.substr(0, at).c_str(), 0700);  // EEXIST for the folders that are there
  }
}

// LC_CTYPE from the environment; where that is the C locale (no LANG: a bare ssh session, a
// container), C.UTF-8, as libedit takes only ASCII in the C locale and would drop every
// accented letter typed. Other locales (Latin-1 ones) are kept as they are.
void choose_ctype() {
  setlocale(LC_CTYPE, "");
  if (strcmp(nl_langinfo(CODESET), "UTF-8") == 0) return;
  const char* current = setlocale(LC_CTYPE, nullptr);
  if (current == nullptr || strcmp(current, "C") == 0 || strcmp(current, "POSIX") == 0) {
    setlocale(LC_CTYPE, "C.UTF-8");
  }
}

LineEditor* editor_of(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<LineEditor*>(data);
}

}  // namespace

std::unique_ptr<LineEditor> LineEditor::open(FILE* in, FILE* out, std::string history_file) {
  choose_ctype();
  std::unique_ptr<LineEditor> editor(new LineEditor());
  editor->out_ = out;
  editor->history_file_ = std::move(history_file);
  editor->el_ = el_init("ringdb-cli", in, out, stderr);
  editor->history_ = history_init();
  if (editor->el_ == nullptr || editor->history_ == nullptr) return nullptr;
  HistEvent event;
  history(editor->history_, &event, H_SETSIZE, kHistoryLinesMax);
  history(editor->history_, &event, H_SETUNIQUE, 1);  // a line repeated is kept once
  if (!editor->history_file_.empty()) {
    // No file yet is the usual first run: nothing to load.
    history(editor->history_, &event, H_LOAD, editor->history_file_.c_str());
  }
  EditLine* el = editor->el_;
  el_set(el, EL_CLIENTDATA, editor.get());
  el_set(el, EL_PROMPT, &LineEditor::prompt_of);
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_SIGNAL, 1);  // the terminal's modes restored on Ctrl-C, Ctrl-Z; resizes followed
  el_set(el, EL_HIST, history, editor->history_);
  // The wide form: libedit keeps these pointers, where the narrow one leaks copies of them.
  el_wset(el, EL_ADDFN, L"ringdb-complete", L"complete a command or option name",
          &LineEditor::complete);
  el_set(el, EL_BIND, "^I", "ringdb-complete", nullptr);
  el_source(el, nullptr);  // the user's ~/.editrc, as in every libedit program
  return editor;
}

LineEditor::~LineEditor() {
  if (el_ != nullptr) el_end(el_);  // gives the terminal its modes back
  if (history_ != nullptr) history_end(history_);
}

LineRead LineEditor::read(std::string* line) {
  line->clear();
  int count = 0;
  const char* text;
  // The terminal into the editor's mode before the prompt is drawn: el_gets draws it first
  // and switches at its first read, so keys typed as soon as the prompt shows would meet the
  // terminal's own line editing (Backspace erasing inside an arrow key's bytes, Ctrl-D lost).
  el_set(el_, EL_PREP_TERM, 1);
  do {
    errno = 0;
    text = el_gets(el_, &count);
  } while (text == nullptr && count < 0 && errno == EINTR);
  if (text == nullptr || count <= 0) return LineRead::kEnd;
  size_t n = static_cast<size_t>(count);
  if (text[n - 1] == '\n') --n;
  if (n > kLineBytesMax) return LineRead::kTooLong;
  line->assign(text, n);
  return LineRead::kLine;
}

void LineEditor::remember(const std::string& line) {
  if (!history_keeps(line)) return;
  // Without trailing blanks, so that the same command typed twice is kept once.
  std::string entry = line;
  entry.erase(entry.find_last_not_of(" \t\r") + 1);
  HistEvent event;
  history(history_, &event, H_ENTER, entry.c_str());
  save_history();
}

void LineEditor::save_history() {
  if (history_file_.empty()) return;
  make_parents(history_file_);
  const std::string temp = history_file_ + ".tmp-" + std::to_string(getpid());
  unlink(temp.c_str());  // left by a killed cli of the same pid
  int error = 0;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = errno;
  } else if (FILE* f = fdopen(fd, "w"); f == nullptr) {
    error = errno;
    close(fd);
  } else {
    HistEvent event;
    if (history(history_, &event, H_SAVE_FP, f) < 0) error = EIO;
    if (fclose(f) != 0 && error == 0) error = errno;
    if (error == 0 && rename(temp.c_str(), history_file_.c_str()) != 0) error = errno;
  }
  if (error == 0) return;
  unlink(temp.c_str());
  if (history_failed_) return;
  history_failed_ = true;
  fprintf(stderr,
          "ringdb-cli: cannot write the history file %s: %s (RINGDB_CLI_HISTORY= keeps none)\n",
          history_file_.c_str(), strerror(error));
}

char* LineEditor::prompt_of(EditLine* el) {
  return editor_of(el)->prompt_.data();
}

// Tab: completes the word before the cursor when one candidate fits (and adds a space), or
// as far as the candidates agree; lists them when they agree no further.
unsigned char LineEditor::complete(EditLine* el, int /*key*/) {
  const LineInfo* info = el_line(el);
  const std::string_view before(info->buffer, static_cast<size_t>(info->cursor - info->buffer));
  const std::vector<std::string> words = completions(before);
  if (words.empty()) return CC_REFRESH_BEEP;
  const size_t separator = before.find_last_of(" \t");
  const size_t typed = before.size() - (separator == std::string_view::npos ? 0 : separator + 1);
  // The typed part is replaced, not extended: completion ignores case and writes the name.
  std::string insert = words.size() == 1 ? words[0] + " " : common_prefix(words);
  if (insert.size() > typed) {
    el_deletestr(el, static_cast<int>(typed));
    return el_insertstr(el, insert.c_str()) == 0 ? CC_REFRESH : CC_ERROR;
  }
  FILE* out = editor_of(el)->out_;
  fputc('\n', out);
  for (const std::string& w : words)
    fprintf(out, "%s  ", w.c_str());
  fputc('\n', out);
  fflush(out);
  return CC_REDISPLAY;
}

}  // namespace ringdb::cli
