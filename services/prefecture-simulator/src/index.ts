export { prefectureSimulator, refusalReason, simulatorSettings, type SimulatorSettings } from "./service.ts";
