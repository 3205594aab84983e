// editor.js: the PromQL editor: CodeMirror 6 with the PromQL language of
// @prometheus-io/codemirror-promql (highlighting, linting, autocomplete
// of functions, metric names, label names and values from this server's
// API), bracket matching and closing, history; Enter runs the query,
// Shift+Enter breaks the line.
import { EditorView, keymap, placeholder, highlightSpecialChars, drawSelection, Decoration } from '@codemirror/view';
import { EditorState, Prec, StateField, StateEffect } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap, insertNewline } from '@codemirror/commands';
import { bracketMatching, syntaxHighlighting, defaultHighlightStyle, indentOnInput } from '@codemirror/language';
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap, completionStatus } from '@codemirror/autocomplete';
import { lintKeymap } from '@codemirror/lint';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import { authFetch } from './auth.js';

const setErrorMark = StateEffect.define();
const errorField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) if (e.is(setErrorMark)) deco = e.value;
    if (tr.docChanged) deco = Decoration.none;
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});
const errMark = Decoration.mark({ class: 'cm-query-error' });

export function makeEditor(parent, doc, onRun, onChange) {
  const promql = new PromQLExtension()
    .activateLinter(false)
    .setComplete({
      remote: {
        url: location.origin,
        httpMethod: 'GET',
        fetchFn: authFetch, // the bearer token, when the server wants one (auth.js)
        // a server without /api/v1/metadata yet: complete without it, quietly
        httpErrorHandler: () => {},
        cache: { maxAge: 60 * 1000 },
      },
      maxMetricsMetadata: 10000,
    });
  const run = () => {
    onRun();
    return true;
  };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(keymap.of([
          {
            key: 'Enter',
            run: (v) => (completionStatus(v.state) === 'active' ? false : run()),
          },
          { key: 'Shift-Enter', run: insertNewline },
          { key: 'Mod-Enter', run },
        ])),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        autocompletion({ activateOnTypingDelay: 50 }),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        placeholder('Expression (press Enter to run, Shift+Enter for a new line)'),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        promql.asExtension(),
        errorField,
        EditorView.lineWrapping,
        EditorView.updateListener.of((u) => {
          if (u.docChanged && onChange) onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  view.contentDOM.setAttribute('data-testid', 'expr');
  return {
    view,
    get value() {
      return view.state.doc.toString();
    },
    set value(s) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: s } });
    },
    focus() {
      view.focus();
    },
    // Marks the character at line:col (1-based, as Prometheus reports
    // positions) to the end of the line.
    markError(line, col) {
      const doc = view.state.doc;
      if (line < 1 || line > doc.lines) return;
      const l = doc.line(line);
      // past the end (an unexpected end of input): mark the last character
      const from = Math.max(l.from, Math.min(l.from + Math.max(col - 1, 0), l.to - 1));
      const to = Math.min(from + 1, l.to);
      const deco = from < to ? Decoration.set([errMark.range(from, to)]) : Decoration.none;
      view.dispatch({ effects: setErrorMark.of(deco), selection: { anchor: from } });
    },
  };
}
