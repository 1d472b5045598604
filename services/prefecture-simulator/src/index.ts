export { prefectureSimulator, simulatorSettings, type SimulatorSettings } from "./service.ts";
export { letterPdf } from "./letter.ts";
