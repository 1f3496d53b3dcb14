// The smallest job for jaild's JavaScript runner: the code is the body of an
// async function; `input` is the job's parsed input and the returned value is
// the job's result.
const name = (input && typeof input.name === 'string') ? input.name : 'world';
console.log(`hello, ${name}!`);
return { greeting: `hello, ${name}`, node: process.version };
