export * from './flow';
export { FlagHistory, connState } from './flag-history';
export { FirstBytes, FIRST_BYTES, DETECT_BYTES } from './first-bytes';
export { flowJson, jsonInput, type FlowJsonInput } from './flow-json';
export { AfterCloseWindow, LINGER_PACKETS, LINGER_SEC } from './after-close';
export { UdpTable, UdpConversation, udpFlowOf, detectDns, detectQuic, UDP_DETECTORS, type UdpFlow, type UdpClose, type UdpDetector } from './udp';
