// A strategy's schedule against the platform's clock, in IST (no daylight saving: UTC+05:30).
// Holidays are the platform's business: a scheduled minute on a holiday simply does not run.

const IST_OFFSET_MINUTES = 330;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const DAY_MS = 86400000;
const LOOKAHEAD_DAYS = 8;

function minutesOf(hhmm) {
  const [hours, minutes] = String(hhmm || '').split(':').map(Number);
  return Number.isFinite(hours) && Number.isFinite(minutes) ? hours * 60 + minutes : null;
}

/** The IST calendar day of `instant` as a Date at 00:00 IST, and the weekday name. */
function istDay(instant) {
  const shifted = new Date(instant.getTime() + IST_OFFSET_MINUTES * 60000);
  const midnightShifted = Date.UTC(shifted.getUTCFullYear(), shifted.getUTCMonth(), shifted.getUTCDate());
  return { start: new Date(midnightShifted - IST_OFFSET_MINUTES * 60000), weekday: WEEKDAYS[shifted.getUTCDay()] };
}

function at(dayStart, hhmm) {
  const minutes = minutesOf(hhmm);
  return minutes === null ? null : new Date(dayStart.getTime() + minutes * 60000);
}

/** Does the strategy enter on the IST day of `instant`? */
export function entersOn(strategy, instant) {
  const weekdays = strategy.entry?.weekdays || [];
  return weekdays.includes(istDay(instant).weekday);
}

/** Today's (IST) entry and exit instants of a strategy (null when it does not enter today). */
export function todaysTimes(strategy, now) {
  if (!entersOn(strategy, now)) return { entry: null, exit: null };
  const { start } = istDay(now);
  const intraday = strategy.exit && strategy.exit.days_before_expiry == null;
  return { entry: at(start, strategy.entry?.time), exit: intraday ? at(start, strategy.exit.time) : null };
}

/** The next scheduled entries and exits of active strategies after `now`, soonest first.
 * `enteredToday`: ids of strategies holding today's entry (their exit today is still to come). */
export function upcoming(strategies, now, enteredToday = new Set(), limit = 10) {
  const events = [];
  for (const strategy of strategies) {
    if (strategy.status !== 'ACTIVE') continue;
    const intraday = strategy.exit && strategy.exit.days_before_expiry == null;
    for (let offset = 0; offset < LOOKAHEAD_DAYS; offset += 1) {
      const day = istDay(new Date(now.getTime() + offset * DAY_MS));
      const entry = at(day.start, strategy.entry?.time);
      const exit = intraday ? at(day.start, strategy.exit.time) : null;
      const entersThatDay = (strategy.entry?.weekdays || []).includes(day.weekday);
      if (offset === 0 && exit && exit > now && enteredToday.has(strategy.strategy_id)) {
        events.push({ at: exit, action: 'EXIT', strategy });
      }
      if (entersThatDay && entry && entry > now) {
        events.push({ at: entry, action: 'ENTRY', strategy });
        if (exit && exit > entry) events.push({ at: exit, action: 'EXIT', strategy });
        break;
      }
    }
    if (strategy.exit && strategy.exit.days_before_expiry != null && enteredToday.has(strategy.strategy_id)) {
      events.push({ at: null, action: 'EXIT', strategy, note: `${strategy.exit.time}, ${strategy.exit.days_before_expiry} day(s) before expiry` });
    }
  }
  return events
    .sort((a, b) => (a.at?.getTime() ?? Infinity) - (b.at?.getTime() ?? Infinity))
    .slice(0, limit);
}
