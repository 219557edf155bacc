// globalSetup of the faults project: one line when PostgreSQL's server binaries are missing
// (the files then skip).
import { announce } from '../helpers/requirements.js';

export default function setup(): void {
  announce('faults');
}
