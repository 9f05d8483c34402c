/** The managed directory's LDAP wire codec: pure functions, no I/O. */
export { ProtocolError } from './errors.ts';
export type { ProtocolErrorReason } from './errors.ts';
export { defaultMaxFilterDepth, encodeFilter } from './filter.ts';
export {
  decodeMessage,
  defaultMaxMessageBytes,
  encodeAddResponse,
  encodeBindResponse,
  encodeCompareResponse,
  encodeControls,
  encodeDelResponse,
  encodeExtendedResponse,
  encodeMessage,
  encodeModifyDnResponse,
  encodeModifyResponse,
  encodeNoticeOfDisconnection,
  encodeProtocolOp,
  encodeResultResponse,
  encodeSearchResultDone,
  encodeSearchResultEntry,
  encodeSearchResultReference,
  maxInt,
  needMoreData,
} from './messages.ts';
export type {
  AbandonRequestOp,
  AddRequestOp,
  BindRequestOp,
  BindResponseOp,
  CompareRequestOp,
  DecodeOptions,
  DecodedMessage,
  DelRequestOp,
  ExtendedRequestOp,
  ExtendedResponseOp,
  LdapMessage,
  ModifyDnRequestOp,
  ModifyRequestOp,
  NeedMoreData,
  ProtocolOp,
  RequestOp,
  ResponseOp,
  ResultOp,
  SearchRequestOp,
  SearchResultEntryOp,
  SearchResultReferenceOp,
  UnbindRequestOp,
  WireResult,
} from './messages.ts';
export {
  decodePagedResultsValue,
  decodePasswordModifyRequestValue,
  decodePasswordModifyResponseValue,
  encodePagedResultsValue,
  encodePasswordModifyRequestValue,
  encodePasswordModifyResponseValue,
} from './values.ts';
export type { PagedResultsValue } from './values.ts';
