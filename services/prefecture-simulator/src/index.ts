export { prefectureSimulator, simulatorSettings, type SimulatorSettings } from "./service.ts";
