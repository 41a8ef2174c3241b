// Server-sent events read from a fetch() body (EventSource cannot send an Authorization
// header, and a token in the URL would end up in logs). Yields {event, data} per event;
// comments (": keep-alive") are skipped.

function parse(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : null;
}

export async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n|\r(?=[^\n])/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
      }
    }
    const last = parse(buffer.trim());
    if (last) yield last;
  } finally {
    if (!finished) reader.cancel().catch(() => {}); // the reader stopped early: close the body
  }
}
