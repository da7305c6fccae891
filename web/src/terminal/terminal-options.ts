/** How every terminal in the console looks: the live terminal, replays and live views alike. */

export const TERMINAL_FONT_FAMILY = 'ui-monospace, "JetBrains Mono", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace';
export const TERMINAL_THEME = { background: '#0b0e14', foreground: '#d8dee9', cursor: '#e5c07b', selectionBackground: '#3b4252' };

/** Options of the operator's live terminal (the flood benchmark's local page uses them too). */
export const TERMINAL_OPTIONS = {
  cursorBlink: true,
  fontFamily: TERMINAL_FONT_FAMILY,
  fontSize: 14,
  scrollback: 5000,
  allowProposedApi: false,
  theme: TERMINAL_THEME,
};
