/**
 * The DirSync control as ldapts sends it. ldapts parses a response control it does not know into
 * the request control of the same OID, so the server's answer (more data, the next cookie) lands
 * in this same object once the search is done.
 */
import { Control, type BerReader, type BerWriter } from 'ldapts';
import { DIRSYNC_OID, decodeDirSyncResponse, encodeDirSyncRequest, type DirSyncRequest, type DirSyncResponse } from './dirsync.ts';

const OCTET_STRING = 0x04;

export class DirSyncControl extends Control {
  /** The server's answer, set when the SearchResultDone carried the control. */
  response: DirSyncResponse | null = null;
  /** Why the answer could not be read, if it could not. */
  responseError: Error | null = null;

  constructor(readonly request: DirSyncRequest) {
    // Critical: a server without DirSync must refuse (unavailableCriticalExtension), never ignore it
    // and answer a plain search that would look like "no changes".
    super(DIRSYNC_OID, { critical: true });
  }

  protected override writeControl(writer: BerWriter): void {
    writer.writeBuffer(encodeDirSyncRequest(this.request), OCTET_STRING);
  }

  protected override parseControl(reader: BerReader): void {
    try {
      this.response = decodeDirSyncResponse(Buffer.from(reader.buffer));
    } catch (error) {
      this.responseError = error instanceof Error ? error : new Error(String(error));
    }
  }
}
