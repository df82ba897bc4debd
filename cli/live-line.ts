// A progress line redrawn in place on a terminal (stderr), for the commands that show one while they wait
// (`modelgate replay`, `modelgate batch`), and the durations such lines show.

export interface LiveLine {
  /** Replaces the line's text. */
  show(text: string): void;
  /** Erases the line, so that what is printed next starts on a clean line (the report, a Ctrl-C message). */
  clear(): void;
}

/** The live line of `stream`, a terminal: `\r` and erase-line redraw it; text wider than the terminal is cut, since a wrapped line cannot be erased. */
export function liveLine(stream: Pick<NodeJS.WriteStream, 'write' | 'columns'>): LiveLine {
  let shown = false;
  return {
    show(text) {
      const width = stream.columns > 1 ? stream.columns - 1 : text.length;
      stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** `0.4 s`, `12 s`, `4 min 20 s`, `38 min`, `2 h 05 min`: as precise as a person reading a progress line needs. */
export function duration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (seconds < 600) return `${minutes} min${seconds % 60 === 0 ? '' : ` ${seconds % 60} s`}`;
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}
