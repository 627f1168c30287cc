export { buildProgram } from './cli';
