// COMPRESS (RFC 4978 §3): `COMPRESS DEFLATE` after login turns on raw DEFLATE (RFC 1951) in both
// directions, starting right after the tagged OK (sent uncompressed). The client must not
// pipeline after COMPRESS, so any byte already received after the command line is compressed
// data: the session hands it to the transport's inflater (Session.startCompression).
// A second COMPRESS gets NO [COMPRESSIONACTIVE]; other mechanisms are refused.
import { Refused, type RefusalCode } from '../../shared/errors.js';
import { defineCommand, states } from '../session/command.js';

/** NO [COMPRESSIONACTIVE] (RFC 4978 §3). */
class CompressionActive extends Refused {
  override readonly code: RefusalCode = 'COMPRESSIONACTIVE';
}

export const compress = defineCommand({
  names: ['COMPRESS'],
  states: states.authenticated,
  async run(session, command) {
    if (session.transport.compressed) throw new CompressionActive('DEFLATE is already active');
    if (command.mechanism !== 'DEFLATE') throw new Refused(`Unknown compression mechanism ${command.mechanism}`, 'CANNOT');
    if (!session.transport.startCompression) throw new Refused('Compression is not available on this connection', 'CANNOT');
    return { text: 'DEFLATE active', after: async () => session.startCompression() };
  },
});
