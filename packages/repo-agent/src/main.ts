import { runMain } from '@pkgfleet/shared';
import { buildProgram } from './cli';

void runMain(buildProgram());
