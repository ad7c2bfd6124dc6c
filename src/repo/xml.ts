// Streaming XML driver shared by the rpm-md readers (repomd, primary, filelists, comps, metalink).
//
// saxes never fetches anything: it does not read external DTDs or external entities, and it
// does not expand entities declared in an internal DTD subset either. A document that uses an
// entity other than the five predefined ones (or numeric character references) is rejected as
// "undefined entity", which is exactly what we want for untrusted repository metadata.
import { SaxesParser } from 'saxes';
import { KilnError } from '../util/errors.js';

/** Events a reader handles. Namespaces are not processed: tag names keep their prefix (`rpm:entry`). */
export interface XmlHandlers {
  open(name: string, attrs: Record<string, string>): void;
  close(name: string): void;
  /** Only called while `wantText()` (checked after every open/close) is true. */
  text(text: string): void;
  wantText(): boolean;
}

/** What the input is, for error messages: `repo "fedora": bad XML in repodata/x-primary.xml.gz line 3: ...` */
export interface XmlSource {
  repo: string;
  file: string;
}

class StopParse extends Error {}

/**
 * Feed string chunks to a saxes parser and dispatch events to `h`. Throws a KilnError naming
 * the repository, the file and the line on malformed XML or on an error thrown by a handler.
 */
export async function parseXml(chunks: AsyncIterable<string> | Iterable<string>, h: XmlHandlers, src: XmlSource): Promise<void> {
  const parser = new SaxesParser({ position: true });
  let failure: { line: number; column: number; message: string } | undefined;
  parser.on('error', (err) => {
    // saxes prefixes "line:col: "; keep only the message and record the position ourselves.
    const m = /^\d+:\d+: (.*)$/s.exec(err.message);
    failure = { line: parser.line, column: parser.column, message: m ? m[1]! : err.message };
    throw new StopParse();
  });
  // The text handler is installed only while the reader wants text. Without a handler saxes
  // does not even build the strings for the whitespace between tags (millions of them in a
  // big primary.xml), which makes parsing markedly faster. saxes reads its handler when it
  // starts scanning text, i.e. after the opentag/closetag event in which we switch it.
  const onText = (t: string) => h.text(t);
  let textOn = false;
  const sync = () => {
    const want = h.wantText();
    if (want !== textOn) {
      textOn = want;
      if (want) parser.on('text', onText);
      else parser.off('text');
    }
  };
  parser.on('opentag', (tag) => {
    h.open(tag.name, tag.attributes as Record<string, string>);
    sync();
  });
  parser.on('closetag', (tag) => {
    h.close(tag.name);
    sync();
  });
  parser.on('cdata', (t) => {
    if (h.wantText()) h.text(t);
  });
  const fail = (e: unknown): never => {
    if (e instanceof StopParse && failure) {
      throw new KilnError(`repo "${src.repo}": bad XML in ${src.file} line ${failure.line} column ${failure.column}: ${failure.message}`);
    }
    if (e instanceof KilnError) {
      throw new KilnError(`repo "${src.repo}": ${src.file} line ${parser.line}: ${e.message}`);
    }
    throw e;
  };
  // Only errors raised while the parser runs (malformed XML, a handler rejecting content) get
  // the file/line prefix; errors of the chunk source (download, decompression) pass through.
  for await (const chunk of chunks) {
    try {
      parser.write(chunk);
    } catch (e) {
      fail(e);
    }
  }
  try {
    parser.close();
  } catch (e) {
    fail(e);
  }
}

/** Parse a small document held in memory. */
export function parseXmlString(text: string, h: XmlHandlers, src: XmlSource): Promise<void> {
  return parseXml([text], h, src);
}
